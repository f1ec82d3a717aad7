/**
 * The one place that talks to the Messages API. It streams, so text reaches the user as it is
 * written, and watches the stream itself: the SDK's timeout covers only the wait for response
 * headers, and a stream that goes quiet after them would otherwise hang a thread forever.
 *
 * How many calls are in flight is up to an AdaptiveConcurrency gate fed with the API's own
 * rate-limit headers. A 429 or 529 is therefore not retried by the SDK (which would hold the
 * call's place while it waits) but handed back to the gate: the call waits out `retry-after`
 * at the head of the line, with fewer calls in flight, up to `maxRetries` times.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import type { Logger } from 'pino';
import { ThreadlineError } from '../errors.js';
import type { ClaudeRequest } from './assemble.js';
import { AdaptiveConcurrency, type Permit } from './concurrency/adaptive-concurrency.js';
import { headroomFrom, retryAfterMs } from './concurrency/rate-limit-headers.js';
import { toModelError, type RefusalDetails } from './model-errors.js';

export interface ModelUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheCreationTokens: number;
}

export interface ModelResult {
  readonly text: string;
  readonly stopReason: string | null;
  readonly refusal: RefusalDetails | null;
  readonly usage: ModelUsage;
  readonly requestId: string | null;
}

export interface ModelClient {
  /**
   * Streams one answer; `onText` gets the full text so far after each delta. Throws
   * ThreadlineError. `lane` (the thread) is what waiting calls are made fair across.
   */
  complete(request: ClaudeRequest, onText: (textSoFar: string) => void, signal?: AbortSignal, lane?: string): Promise<ModelResult>;
  /** Uploads a file once (Files API) so later requests can refer to it by id. */
  uploadFile(bytes: Uint8Array, name: string, mediaType: string): Promise<string>;
}

export interface ModelClientOptions {
  readonly apiKey: string;
  readonly baseUrl: string | undefined;
  readonly maxRetries: number;
  /** Abort when the stream sends nothing for this long. */
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Decides how many calls are in flight; by default one capped at 64 (MAX_CONCURRENT_REPLIES). */
  readonly concurrency?: AdaptiveConcurrency;
}

/** Statuses that mean "the account or the API is at its limit": the gate, not the SDK, retries them. */
const LOAD_STATUSES = new Set([429, 529]);

type RawEvent = Anthropic.Messages.RawMessageStreamEvent;

export function createModelClient(options: ModelClientOptions): ModelClient {
  const client = new Anthropic({
    apiKey: options.apiKey,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    maxRetries: options.maxRetries,
    timeout: options.idleTimeoutMs,
    fetch: withoutSdkRetryOnLoad(options.fetch ?? fetch),
  });
  const gate = options.concurrency ?? new AdaptiveConcurrency({ cap: 64 });

  async function streamOnce(request: ClaudeRequest, onText: (textSoFar: string) => void, signal: AbortSignal | undefined, permit: Permit): Promise<ModelResult> {
    const controller = new AbortController();
    const abortFromCaller = () => controller.abort();
    signal?.addEventListener('abort', abortFromCaller, { once: true });
    let stalled = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdleTimer = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        stalled = true;
        controller.abort();
      }, options.idleTimeoutMs);
    };
    let requestId: string | null = null;
    try {
      armIdleTimer();
      const { data: stream, response, request_id } = await client.messages
        .create({ ...(request as unknown as Anthropic.Messages.MessageCreateParamsNonStreaming), stream: true }, { signal: controller.signal })
        .withResponse();
      permit.succeeded(headroomFrom(response.headers));
      requestId = request_id ?? null;
      const state = new StreamState();
      for await (const event of stream as AsyncIterable<RawEvent>) {
        armIdleTimer();
        if (state.apply(event)) onText(state.text);
      }
      // An aborted stream can end quietly instead of throwing: never take it for a finished answer.
      if (controller.signal.aborted) throw new Error('stream aborted');
      gate.observeTokens(state.usage.inputTokens + state.usage.cacheCreationTokens + state.usage.outputTokens);
      return { text: state.text, stopReason: state.stopReason, refusal: state.refusal, usage: state.usage, requestId };
    } catch (error) {
      if (error instanceof Anthropic.APIError && error.status !== undefined && LOAD_STATUSES.has(error.status)) {
        permit.refused(retryAfterMs(error.headers));
        if (isRetriableLoad(error)) throw error;
      }
      if (stalled) {
        throw new ThreadlineError('model_stalled', `the model stream sent nothing for ${options.idleTimeoutMs} ms`, {
          cause: error,
          ...(requestId === null ? {} : { requestId }),
        });
      }
      const mapped = toModelError(error);
      if (mapped.requestId === undefined && requestId !== null) {
        throw new ThreadlineError(mapped.code, mapped.message, { cause: mapped.cause, requestId });
      }
      throw mapped;
    } finally {
      clearTimeout(idleTimer);
      signal?.removeEventListener('abort', abortFromCaller);
    }
  }

  return {
    async uploadFile(bytes, name, mediaType) {
      try {
        const file = await client.files.upload({ file: await toFile(Buffer.from(bytes), name, { type: mediaType }) });
        return file.id;
      } catch (error) {
        throw toModelError(error);
      }
    },
    async complete(request, onText, signal, lane = '') {
      for (let retry = 0; ; retry += 1) {
        const permit = await gate.acquire(lane, { retry: retry > 0, ...(signal === undefined ? {} : { signal }) });
        try {
          return await streamOnce(request, onText, signal, permit);
        } catch (error) {
          if (retry < options.maxRetries && isRetriableLoad(error)) {
            options.logger.info({ status: (error as InstanceType<typeof Anthropic.APIError>).status, retry: retry + 1 }, 'Messages API at its limit; waiting for the gate');
            continue;
          }
          throw toModelError(error);
        } finally {
          permit.release();
        }
      }
    },
  };
}

/**
 * A 429 or 529 the gate may retry. A spend-cap 429 (`enforced_spend_limit_reached`, no
 * `retry-after`) will not clear by waiting (§15). Anything else is mapped to a ThreadlineError.
 */
function isRetriableLoad(error: unknown): boolean {
  if (!(error instanceof Anthropic.APIError) || error.status === undefined || !LOAD_STATUSES.has(error.status)) return false;
  const details = (error.error as { error?: { details?: { error_code?: string } } } | undefined)?.error?.details;
  return details?.error_code !== 'enforced_spend_limit_reached';
}

/** Marks 429/529 answers `x-should-retry: false`, so the SDK hands them to the gate at once. */
function withoutSdkRetryOnLoad(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (!LOAD_STATUSES.has(response.status)) return response;
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

/** Folds stream events into the answer so far; `apply` says whether the text grew. */
class StreamState {
  text = '';
  stopReason: string | null = null;
  refusal: RefusalDetails | null = null;
  usage: ModelUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 };

  apply(event: RawEvent): boolean {
    switch (event.type) {
      case 'message_start': {
        const usage = event.message.usage;
        this.usage = {
          inputTokens: usage.input_tokens ?? 0,
          outputTokens: usage.output_tokens ?? 0,
          cacheReadTokens: usage.cache_read_input_tokens ?? 0,
          cacheCreationTokens: usage.cache_creation_input_tokens ?? 0,
        };
        return false;
      }
      case 'content_block_delta':
        if (event.delta.type === 'text_delta') {
          this.text += event.delta.text;
          return true;
        }
        return false;
      case 'message_delta': {
        this.stopReason = event.delta.stop_reason ?? this.stopReason;
        const details = (event.delta as { stop_details?: { category?: string | null; explanation?: string | null } | null }).stop_details;
        if (details) this.refusal = { category: details.category ?? null, explanation: details.explanation ?? null };
        // message_delta usage is cumulative (§8): take it as the new total.
        const usage = event.usage;
        this.usage = {
          inputTokens: usage.input_tokens ?? this.usage.inputTokens,
          outputTokens: usage.output_tokens ?? this.usage.outputTokens,
          cacheReadTokens: usage.cache_read_input_tokens ?? this.usage.cacheReadTokens,
          cacheCreationTokens: usage.cache_creation_input_tokens ?? this.usage.cacheCreationTokens,
        };
        return false;
      }
      default:
        return false;
    }
  }
}
