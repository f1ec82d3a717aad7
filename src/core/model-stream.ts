/**
 * One Messages API call, streamed and watched: the SDK's timeout covers only the wait for
 * response headers, and a stream that goes quiet after them would otherwise hang a thread
 * forever. The events are folded into the message as they come (message-fold.ts: tool inputs,
 * citations, server tool result blocks); this adds what the bot shows while it runs.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ThreadlineError } from '../errors.js';
import type { AdaptiveConcurrency, Permit } from './concurrency/adaptive-concurrency.js';
import { headroomFrom, retryAfterMs } from './concurrency/rate-limit-headers.js';
import type { ModelMetrics } from './metrics.js';
import { STOPPED_BY_USER, type ModelResult, type StreamHandlers } from './model-client.js';
import { MessageFold } from './message-fold.js';
import { toModelError } from './model-errors.js';
import type { ClaudeRequest } from './request/types.js';
import { requestJson } from './request/request-json.js';
import { StreamedText } from './streamed-text.js';
import { activityOf, textOfBlocks } from './web-tools/content.js';

/** A string body is sent as it is only with its content type given (the SDK's `buildBody`). */
const JSON_BODY = { 'content-type': 'application/json' } as const;

/** Statuses that mean "the account or the API is at its limit": the gate, not the SDK, retries them. */
export const LOAD_STATUSES = new Set([429, 529]);

type Message = Anthropic.Messages.Message;

export interface StreamDeps {
  readonly client: Anthropic;
  readonly gate: AdaptiveConcurrency;
  readonly idleTimeoutMs: number;
  readonly metrics?: ModelMetrics;
}

/**
 * Streams `request` under `permit`. Resolves with the answer, or with the text so far when the
 * caller's signal stops it; throws a ThreadlineError, or the raw API error of a 429/529 the gate
 * may retry (see isRetriableLoad).
 */
export async function streamOnce(deps: StreamDeps, request: ClaudeRequest, handlers: StreamHandlers, permit: Permit): Promise<ModelResult> {
  const { onText, onThinking, onActivity, signal } = handlers;
  const controller = new AbortController();
  const abortFromCaller = () => controller.abort();
  signal?.addEventListener('abort', abortFromCaller, { once: true });
  let stalled = false;
  let idleTimer: NodeJS.Timeout | undefined;
  // Re-armed on every event: refresh() moves the one timer instead of making a new one each time.
  const armIdleTimer = () => {
    if (idleTimer !== undefined) idleTimer.refresh();
    else
      idleTimer = setTimeout(() => {
        stalled = true;
        controller.abort();
      }, deps.idleTimeoutMs);
  };
  let requestId: string | null = null;
  // A continued turn (pause_turn) ends with the turn's content so far: its text is the answer's start.
  const last = request.messages[request.messages.length - 1];
  const earlier = last?.role === 'assistant' ? (last.content as ReadonlyArray<{ type: string; text?: string }>) : [];
  const streamed = new StreamedText(earlier);
  const thinking = new ThinkingClock();
  let snapshot: Message | undefined;
  const stoppedByUser = (): ModelResult => ({
    ...(snapshot === undefined ? emptyResult(requestId) : resultOf(snapshot, textOfBlocks([...earlier, ...snapshot.content]), requestId)),
    stopReason: STOPPED_BY_USER,
    ...thinking.result(),
  });
  // A function, not a property read: the signal changes while this runs.
  const callerStopped = () => signal?.aborted === true;
  try {
    armIdleTimer();
    const sentAt = performance.now();
    let firstTokenSeen = false;
    // The body goes as text the bot serialized itself (request-json.ts): the SDK sends a string body as it is.
    const body = requestJson({ ...request, stream: true });
    // The params only tell the SDK what the body is (model, stream); without the messages it does
    // not walk every block of a long thread looking for its own helpers' tags, which ours never carry.
    const params: Anthropic.Messages.MessageCreateParamsStreaming = { ...(request as unknown as Anthropic.Messages.MessageCreateParamsStreaming), messages: [], stream: true };
    const { data: stream, response, request_id } = await deps.client.messages
      .create(params, { signal: controller.signal, body, headers: JSON_BODY })
      .withResponse();
    permit.succeeded(headroomFrom(response.headers));
    requestId = request_id ?? null;
    const fold = new MessageFold();
    let shown = '';
    for await (const event of stream) {
      armIdleTimer();
      const current = fold.add(event);
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
        const text = streamed.of(current.content);
        if (text !== shown) {
          if (!firstTokenSeen) deps.metrics?.firstToken((performance.now() - sentAt) / 1000);
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
    const message = fold.final();
    const result = { ...resultOf(message, textOfBlocks([...earlier, ...message.content]), requestId), ...thinking.result() };
    deps.gate.observeTokens(result.usage.inputTokens + result.usage.cacheCreationTokens + result.usage.outputTokens);
    deps.metrics?.modelUsage(result.usage);
    return result;
  } catch (error) {
    // A stop the user asked for is not an error of the model's.
    if (!stalled && callerStopped()) return stoppedByUser();
    const load = error instanceof Anthropic.APIError && error.status !== undefined && LOAD_STATUSES.has(error.status);
    if (load) permit.refused(retryAfterMs((error as InstanceType<typeof Anthropic.APIError>).headers));
    const failure = stalled
      ? new ThreadlineError('model_stalled', `the model stream sent nothing for ${deps.idleTimeoutMs} ms`, {
          cause: error,
          ...(requestId === null ? {} : { requestId }),
        })
      : withRequestId(toModelError(error), requestId);
    deps.metrics?.error('model', failure.code);
    if (load && isRetriableLoad(error)) throw error;
    throw failure;
  } finally {
    clearTimeout(idleTimer);
    signal?.removeEventListener('abort', abortFromCaller);
  }
}

/** A call stopped before it was sent: nothing written, nothing spent. */
export function stoppedBeforeStart(): ModelResult {
  return { ...emptyResult(null), stopReason: STOPPED_BY_USER };
}

/**
 * A 429 or 529 the gate may retry. A spend-cap 429 (`enforced_spend_limit_reached`, no
 * `retry-after`) will not clear by waiting (§15). Anything else is mapped to a ThreadlineError.
 */
export function isRetriableLoad(error: unknown): boolean {
  if (!(error instanceof Anthropic.APIError) || error.status === undefined || !LOAD_STATUSES.has(error.status)) return false;
  const details = (error.error as { error?: { details?: { error_code?: string } } } | undefined)?.error?.details;
  return details?.error_code !== 'enforced_spend_limit_reached';
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
