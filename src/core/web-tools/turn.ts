/**
 * One answer, however many requests it takes. A turn with server tools may stop with
 * `pause_turn` (§14): its content goes back unchanged as the last assistant message, with the
 * same tools, and the model carries on. Bounded, so a turn that keeps pausing still ends.
 */
import type { ClaudeRequest, RequestMessage } from '../request/types.js';
import type { ModelClient, ModelResult, ModelUsage, StreamHandlers } from '../model-client.js';
import type { ResponseBlock } from './content.js';

/** Continuations after the first request; each may run several more searches or fetches. */
export const MAX_CONTINUATIONS = 3;

export interface TurnResult extends ModelResult {
  /** Every content block of the turn, across continuations, in order. */
  readonly content: readonly ResponseBlock[];
  /** The first request's usage: the one the context-budget estimate can be held against. */
  readonly firstUsage: ModelUsage;
  readonly continuations: number;
}

/** What each request of the turn streams to, and what happens when a continuation fails. */
export interface TurnHandlers extends StreamHandlers {
  /** A continuation failed: what the turn had spent until then (searches are billed), before the error is thrown. */
  readonly onUnfinished?: (partial: TurnResult) => void | Promise<void>;
}

export async function completeTurn(model: ModelClient, request: ClaudeRequest, handlers: TurnHandlers, maxContinuations = MAX_CONTINUATIONS): Promise<TurnResult> {
  let content: readonly ResponseBlock[] = [];
  let usage: ModelUsage | undefined;
  let firstUsage: ModelUsage | undefined;
  let last: ModelResult | undefined;
  for (let continuations = 0; ; continuations += 1) {
    let result: ModelResult;
    try {
      result = await model.complete(continuation(request, content), handlers);
    } catch (error) {
      if (last !== undefined && usage !== undefined && firstUsage !== undefined) await handlers.onUnfinished?.({ ...last, content, usage, firstUsage, continuations });
      throw error;
    }
    last = result;
    content = [...content, ...result.content];
    usage = usage === undefined ? result.usage : addUsage(usage, result.usage);
    firstUsage ??= result.usage;
    if (result.stopReason !== 'pause_turn' || continuations >= maxContinuations) {
      return { ...result, content, usage, firstUsage, continuations };
    }
  }
}

/** The request that continues a paused turn: the original one plus the turn's content so far, untouched. */
export function continuation(request: ClaudeRequest, content: readonly ResponseBlock[]): ClaudeRequest {
  if (content.length === 0) return request;
  const paused: RequestMessage = { role: 'assistant', content: content as unknown as RequestMessage['content'] };
  return { ...request, messages: [...request.messages, paused] };
}

function addUsage(a: ModelUsage, b: ModelUsage): ModelUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheCreationTokens: a.cacheCreationTokens + b.cacheCreationTokens,
    webSearchRequests: a.webSearchRequests + b.webSearchRequests,
    webFetchRequests: a.webFetchRequests + b.webFetchRequests,
  };
}
