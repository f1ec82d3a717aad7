/**
 * The one place that talks to the Messages API. It streams, so text reaches the user as it is
 * written, and watches the stream itself: the SDK's timeout covers only the wait for response
 * headers, and a stream that goes quiet after them would otherwise hang a thread forever.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import type { Logger } from 'pino';
import { ThreadlineError } from '../errors.js';
import type { ClaudeRequest } from './assemble.js';
import { observeRateLimits, type ModelMetrics } from './metrics.js';
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
  /** Streams one answer; `onText` gets the full text so far after each delta. Throws ThreadlineError. */
  complete(request: ClaudeRequest, onText: (textSoFar: string) => void, signal?: AbortSignal): Promise<ModelResult>;
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
  readonly metrics?: ModelMetrics;
}

type RawEvent = Anthropic.Messages.RawMessageStreamEvent;

export function createModelClient(options: ModelClientOptions): ModelClient {
  const client = new Anthropic({
    apiKey: options.apiKey,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    maxRetries: options.maxRetries,
    timeout: options.idleTimeoutMs,
    ...(options.metrics === undefined ? (options.fetch === undefined ? {} : { fetch: options.fetch }) : { fetch: observeRateLimits(options.fetch ?? fetch, options.metrics) }),
  });
  const metrics = options.metrics;

  return {
    async uploadFile(bytes, name, mediaType) {
      try {
        const file = await client.files.upload({ file: await toFile(Buffer.from(bytes), name, { type: mediaType }) });
        return file.id;
      } catch (error) {
        throw toModelError(error);
      }
    },
    async complete(request, onText, signal) {
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
        const sentAt = performance.now();
        let firstTokenSeen = false;
        const { data: stream, request_id } = await client.messages
          .create({ ...(request as unknown as Anthropic.Messages.MessageCreateParamsNonStreaming), stream: true }, { signal: controller.signal })
          .withResponse();
        requestId = request_id ?? null;
        const state = new StreamState();
        for await (const event of stream as AsyncIterable<RawEvent>) {
          armIdleTimer();
          if (state.apply(event)) {
            if (!firstTokenSeen) metrics?.firstToken((performance.now() - sentAt) / 1000);
            firstTokenSeen = true;
            onText(state.text);
          }
        }
        // An aborted stream can end quietly instead of throwing: never take it for a finished answer.
        if (controller.signal.aborted) throw new Error('stream aborted');
        metrics?.modelUsage(state.usage);
        return { text: state.text, stopReason: state.stopReason, refusal: state.refusal, usage: state.usage, requestId };
      } catch (error) {
        const failure = stalled
          ? new ThreadlineError('model_stalled', `the model stream sent nothing for ${options.idleTimeoutMs} ms`, {
              cause: error,
              ...(requestId === null ? {} : { requestId }),
            })
          : withRequestId(toModelError(error), requestId);
        // A stop the user asked for is not an error of the model's.
        if (signal?.aborted !== true) metrics?.error('model', failure.code);
        throw failure;
      } finally {
        clearTimeout(idleTimer);
        signal?.removeEventListener('abort', abortFromCaller);
      }
    },
  };
}

function withRequestId(error: ThreadlineError, requestId: string | null): ThreadlineError {
  if (error.requestId !== undefined || requestId === null) return error;
  return new ThreadlineError(error.code, error.message, { cause: error.cause, requestId });
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
