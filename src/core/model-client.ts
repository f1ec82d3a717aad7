/**
 * The one place that talks to the Messages API. It streams, so text reaches the user as it is
 * written, and watches the stream itself: the SDK's timeout covers only the wait for response
 * headers, and a stream that goes quiet after them would otherwise hang a thread forever.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import type { Logger } from 'pino';
import { ThreadlineError } from '../errors.js';
import type { ClaudeRequest } from './request/types.js';
import { observeRateLimits, type ModelMetrics } from './metrics.js';
import { toModelError, type RefusalDetails } from './model-errors.js';
import { activityOf, textOfBlocks, type ResponseBlock } from './web-tools/content.js';
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

export interface ModelClient {
  /**
   * Streams one answer; `onText` gets the full text so far after each delta, `onThinking` fires
   * when a thinking block starts, `onActivity` each server tool call as it starts running.
   * Throws ThreadlineError; when `signal` aborts (the user pressed Stop) it resolves with the
   * text so far and `stopReason` STOPPED_BY_USER instead.
   */
  complete(
    request: ClaudeRequest,
    onText: (textSoFar: string) => void,
    signal?: AbortSignal,
    onThinking?: () => void,
    onActivity?: (activity: ToolActivity) => void,
  ): Promise<ModelResult>;
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
type Message = Anthropic.Messages.Message;

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
    async complete(request, onText, signal, onThinking, onActivity) {
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
      // A continued turn (pause_turn) ends with the turn's content so far: its text is the answer's start.
      const last = request.messages[request.messages.length - 1];
      const earlier = last?.role === 'assistant' ? (last.content as ReadonlyArray<{ type: string; text?: string }>) : [];
      const thinking = new ThinkingClock();
      let snapshot: Message | undefined;
      const stoppedByUser = (): ModelResult => ({
        ...(snapshot === undefined ? emptyResult(requestId) : resultOf(snapshot, textOfBlocks([...earlier, ...snapshot.content]), requestId)),
        stopReason: STOPPED_BY_USER,
        ...thinking.result(),
      });
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
        // The SDK's MessageStream folds the events into the message (tool inputs, citations, result blocks).
        const { data: stream, request_id } = await client.messages
          .stream(request as unknown as Anthropic.Messages.MessageStreamParams, { signal: controller.signal })
          .withResponse();
        requestId = request_id ?? null;
        let shown = '';
        for await (const event of stream as AsyncIterable<RawEvent>) {
          armIdleTimer();
          const current = stream.currentMessage;
          if (current === undefined) continue;
          snapshot = current;
          if (event.type === 'content_block_start') {
            const type = event.content_block.type;
            if (type === 'thinking' || type === 'redacted_thinking') {
              thinking.start();
              onThinking?.();
            } else thinking.stop();
          } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
            // Thinking deltas (and the signature) are never part of the answer.
            thinking.stop();
            const text = textOfBlocks([...earlier, ...current.content]);
            if (text !== shown) {
              if (!firstTokenSeen) metrics?.firstToken((performance.now() - sentAt) / 1000);
              firstTokenSeen = true;
              onText((shown = text));
            }
          } else if (event.type === 'content_block_stop' && onActivity !== undefined) {
            const block = current.content[event.index];
            const activity = block === undefined ? undefined : activityOf(block);
            if (activity !== undefined) onActivity(activity);
          }
        }
        // An aborted stream can end quietly instead of throwing: never take it for a finished answer.
        if (controller.signal.aborted) {
          if (!stalled && callerStopped()) return stoppedByUser();
          throw new Error('stream aborted');
        }
        const message = await stream.finalMessage();
        const result = { ...resultOf(message, textOfBlocks([...earlier, ...message.content]), requestId), ...thinking.result() };
        metrics?.modelUsage(result.usage);
        return result;
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

/** How long the model thought before its first text (adaptive thinking), when it did. */
class ThinkingClock {
  private since: number | undefined;
  private ms: number | undefined;

  start(): void {
    this.since ??= Date.now();
  }

  stop(): void {
    if (this.since !== undefined && this.ms === undefined) this.ms = Date.now() - this.since;
  }

  result(): { thinkingMs?: number } {
    return this.ms === undefined ? {} : { thinkingMs: this.ms };
  }
}

function emptyResult(requestId: string | null): ModelResult {
  return {
    text: '',
    stopReason: null,
    refusal: null,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, webSearchRequests: 0, webFetchRequests: 0 },
    requestId,
    content: [],
  };
}

function resultOf(message: Message, text: string, requestId: string | null): ModelResult {
  const usage = message.usage;
  const details = message.stop_details as { category?: string | null; explanation?: string | null } | null | undefined;
  return {
    text,
    stopReason: message.stop_reason ?? null,
    refusal: details ? { category: details.category ?? null, explanation: details.explanation ?? null } : null,
    usage: {
      inputTokens: usage.input_tokens ?? 0,
      outputTokens: usage.output_tokens ?? 0,
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheCreationTokens: usage.cache_creation_input_tokens ?? 0,
      webSearchRequests: usage.server_tool_use?.web_search_requests ?? 0,
      webFetchRequests: usage.server_tool_use?.web_fetch_requests ?? 0,
    },
    requestId,
    content: message.content,
  };
}
