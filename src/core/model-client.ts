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
  /** How long the model thought before writing (adaptive thinking), when it did. */
  readonly thinkingMs?: number;
}

/** `stopReason` of an answer the user stopped: `text` is what was written until then. */
export const STOPPED_BY_USER = 'stopped_by_user';

export interface ModelClient {
  /**
   * Streams one answer; `onText` gets the full text so far after each delta, `onThinking` fires
   * when a thinking block starts. Throws ThreadlineError; when `signal` aborts (the user pressed
   * Stop) it resolves with the text so far and `stopReason` STOPPED_BY_USER instead.
   */
  complete(request: ClaudeRequest, onText: (textSoFar: string) => void, signal?: AbortSignal, onThinking?: () => void): Promise<ModelResult>;
  /** Uploads a file once (Files API) so later requests can refer to it by id. */
  uploadFile(bytes: Uint8Array, name: string, mediaType: string): Promise<string>;
  /** Every model id `GET /v1/models` lists (all pages). Throws ThreadlineError. */
  listModels(): Promise<readonly string[]>;
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
    async listModels() {
      try {
        const ids: string[] = [];
        for await (const model of client.models.list({ limit: 100 })) ids.push(model.id);
        return ids;
      } catch (error) {
        throw toModelError(error);
      }
    },
    async complete(request, onText, signal, onThinking) {
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
      const state = new StreamState();
      const stoppedByUser = (): ModelResult => ({ ...state.result(requestId), stopReason: STOPPED_BY_USER });
      // A function, not a property read: the signal changes while this runs.
      const callerStopped = () => signal?.aborted === true;
      // Stopped before the call began (a press while the request was being built): no call at all.
      if (callerStopped()) {
        signal?.removeEventListener('abort', abortFromCaller);
        return stoppedByUser();
      }
      try {
        armIdleTimer();
        const sentAt = performance.now();
        let firstTokenSeen = false;
        const { data: stream, request_id } = await client.messages
          .create({ ...(request as unknown as Anthropic.Messages.MessageCreateParamsNonStreaming), stream: true }, { signal: controller.signal })
          .withResponse();
        requestId = request_id ?? null;
        for await (const event of stream as AsyncIterable<RawEvent>) {
          armIdleTimer();
          const change = state.apply(event);
          if (change === 'text') {
            if (!firstTokenSeen) metrics?.firstToken((performance.now() - sentAt) / 1000);
            firstTokenSeen = true;
            onText(state.text);
          } else if (change === 'thinking') onThinking?.();
        }
        // An aborted stream can end quietly instead of throwing: never take it for a finished answer.
        if (controller.signal.aborted) {
          if (!stalled && callerStopped()) return stoppedByUser();
          throw new Error('stream aborted');
        }
        metrics?.modelUsage(state.usage);
        return state.result(requestId);
      } catch (error) {
        // A stop the user asked for is not an error of the model's.
        if (!stalled && callerStopped()) return stoppedByUser();
        const failure = stalled
          ? new ThreadlineError('model_stalled', `the model stream sent nothing for ${options.idleTimeoutMs} ms`, {
              cause: error,
              ...(requestId === null ? {} : { requestId }),
            })
          : withRequestId(toModelError(error), requestId);
        metrics?.error('model', failure.code);
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

/** Folds stream events into the answer so far; `apply` says whether the text grew or thinking began. */
class StreamState {
  text = '';
  private thinkingSince: number | undefined;
  thinkingMs: number | undefined;
  stopReason: string | null = null;
  refusal: RefusalDetails | null = null;
  usage: ModelUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 };

  result(requestId: string | null): ModelResult {
    return {
      text: this.text,
      stopReason: this.stopReason,
      refusal: this.refusal,
      usage: this.usage,
      requestId,
      ...(this.thinkingMs === undefined ? {} : { thinkingMs: this.thinkingMs }),
    };
  }

  apply(event: RawEvent): 'text' | 'thinking' | null {
    switch (event.type) {
      case 'content_block_start': {
        const type = event.content_block.type;
        if (type === 'thinking' || type === 'redacted_thinking') {
          this.thinkingSince ??= Date.now();
          return 'thinking';
        }
        this.endThinking();
        return null;
      }
      case 'message_start': {
        const usage = event.message.usage;
        this.usage = {
          inputTokens: usage.input_tokens ?? 0,
          outputTokens: usage.output_tokens ?? 0,
          cacheReadTokens: usage.cache_read_input_tokens ?? 0,
          cacheCreationTokens: usage.cache_creation_input_tokens ?? 0,
        };
        return null;
      }
      case 'content_block_delta':
        // Thinking deltas (and the signature) are never part of the answer.
        if (event.delta.type === 'text_delta') {
          this.endThinking();
          this.text += event.delta.text;
          return 'text';
        }
        return null;
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
        return null;
      }
      default:
        return null;
    }
  }

  private endThinking(): void {
    if (this.thinkingSince !== undefined && this.thinkingMs === undefined) this.thinkingMs = Date.now() - this.thinkingSince;
  }
}
