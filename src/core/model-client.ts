/**
 * The one place that talks to the Messages API. It streams, so text reaches the user as it is
 * written (model-stream.ts watches each stream), and it decides when a call may start.
 *
 * How many calls are in flight is up to an AdaptiveConcurrency gate fed with the API's own
 * rate-limit headers. A 429 or 529 is therefore not retried by the SDK (which would hold the
 * call's place while it waits) but handed back to the gate: the call waits out `retry-after`
 * at the head of the line, with fewer calls in flight, up to `maxRetries` times.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import type { Logger } from 'pino';
import { AdaptiveConcurrency } from './concurrency/adaptive-concurrency.js';
import { observeRateLimits, type ModelMetrics } from './metrics.js';
import { toModelError, type RefusalDetails } from './model-errors.js';
import { LOAD_STATUSES, isRetriableLoad, streamOnce, stoppedBeforeStart } from './model-stream.js';
import type { ClaudeRequest } from './request/types.js';
import type { ResponseBlock } from './web-tools/content.js';
import type { ToolActivity } from './web-tools/types.js';

export interface ModelUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheCreationTokens: number;
  /** Server tool calls billed (`usage.server_tool_use`); failed searches are free and not counted. */
  readonly webSearchRequests: number;
  readonly webFetchRequests: number;
}

export interface ModelResult {
  /** The whole turn's text: a continued turn's earlier text (its last assistant message) included. */
  readonly text: string;
  readonly stopReason: string | null;
  readonly refusal: RefusalDetails | null;
  readonly usage: ModelUsage;
  readonly requestId: string | null;
  /** How long the model thought before writing (adaptive thinking), when it did. */
  readonly thinkingMs?: number;
  /** This response's content blocks exactly as received: a `pause_turn` sends them back unchanged. */
  readonly content: readonly ResponseBlock[];
}

/** `stopReason` of an answer the user stopped: `text` is what was written until then. */
export const STOPPED_BY_USER = 'stopped_by_user';

export interface StreamHandlers {
  /** The full text so far, after each delta. */
  readonly onText: (textSoFar: string) => void;
  /** A thinking block started (adaptive thinking). */
  readonly onThinking?: () => void;
  /** A server tool call (web search, web fetch) started running. */
  readonly onActivity?: (activity: ToolActivity) => void;
  /** The call left the concurrency gate: its first text is now a time-to-first-token away. */
  readonly onStart?: () => void;
  /** Stop: the call ends at once and resolves with the text so far (`stopReason` STOPPED_BY_USER). */
  readonly signal?: AbortSignal;
  /** The thread: waiting calls are served fairly across lanes, in order within one. */
  readonly lane?: string;
}

export interface ModelClient {
  /** Streams one answer through `handlers`. Throws ThreadlineError, except when stopped. */
  complete(request: ClaudeRequest, handlers: StreamHandlers): Promise<ModelResult>;
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
  /** Decides how many calls are in flight; by default one capped at 64 (MAX_CONCURRENT_REPLIES). */
  readonly concurrency?: AdaptiveConcurrency;
}

export function createModelClient(options: ModelClientOptions): ModelClient {
  const observed = options.metrics === undefined ? (options.fetch ?? fetch) : observeRateLimits(options.fetch ?? fetch, options.metrics);
  const client = new Anthropic({
    apiKey: options.apiKey,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    maxRetries: options.maxRetries,
    timeout: options.idleTimeoutMs,
    fetch: withoutSdkRetryOnLoad(observed),
    // The bot registers no OpenTelemetry tracer provider, so the SDK's spans could record nothing;
    // building them still cost about a sixth of each request's CPU, which a burst of mentions waits on.
    openTelemetry: false,
  });
  const gate = options.concurrency ?? new AdaptiveConcurrency({ cap: 64 });
  const stream = { client, gate, idleTimeoutMs: options.idleTimeoutMs, ...(options.metrics === undefined ? {} : { metrics: options.metrics }) };

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
    async complete(request, handlers) {
      const { signal, lane = '' } = handlers;
      // A function, not a property read: the signal changes while this runs.
      const stopped = () => signal?.aborted === true;
      for (let retry = 0; ; retry += 1) {
        // Stopped before the call began (a press while the request was built, or while it waited): no call at all.
        if (stopped()) return stoppedBeforeStart();
        let permit;
        try {
          permit = await gate.acquire(lane, { retry: retry > 0, ...(signal === undefined ? {} : { signal }) });
        } catch (error) {
          if (stopped()) return stoppedBeforeStart();
          throw toModelError(error);
        }
        handlers.onStart?.();
        try {
          return await streamOnce(stream, request, handlers, permit);
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
