/**
 * Builds one conversation's requests, reusing the last one. Between two replies a thread usually
 * only grows by the bot's answer and a new question, so every message before them is the same
 * object as last time: the new request keeps those and builds only the tail, instead of
 * rebuilding a long thread on every reply. Whenever something else changed (an edit, a new
 * system message, a new author, many images, the context budget), it builds from scratch with `assemble`,
 * and both ways give equal requests (test/core/request-builder.test.ts checks that on random threads).
 */
import { assembleInDetail, requestOf } from './assemble.js';
import { appendTurn } from './placement.js';
import { countTrailingSystem, indexOfLastUser, isEmpty, turnTokens, withImpliedRequest, withoutImagesUnlessUser } from './turns.js';
import type { AssembleDetails, AssembleInput, AssembleResult, HistoryTurn, RequestMessage } from './types.js';
import { inlineSize } from '../attachment-limits.js';
import { IMAGE_LIMITS } from '../models.js';
import { estimateTextTokens } from '../tokens.js';

interface Snapshot {
  readonly input: AssembleInput;
  readonly details: AssembleDetails;
}

export class RequestBuilder {
  private last: Snapshot | undefined;

  build(input: AssembleInput): AssembleResult {
    const details = (this.last === undefined ? undefined : extend(this.last, input)) ?? assembleInDetail(input);

    this.last = reusable(details) ? { input, details } : undefined;
    return details.result;
  }
}

/** A request can be extended when what it sent is exactly its input, in order, with nothing left out. */
function reusable(details: AssembleDetails): boolean {
  const messages = details.messages;
  return details.verbatim && messages.length >= 2 && messages[0]?.role === 'user';
}

/** The new request built from the last one, or `undefined` when the thread changed in a way only a full build handles. */
function extend(last: Snapshot, input: AssembleInput): AssembleDetails | undefined {
  const previous = last.input;
  if (input.rules !== previous.rules || input.system !== previous.system || input.maxTokens !== previous.maxTokens || input.budgetTokens !== previous.budgetTokens) return undefined;
  const from = last.details.consumed;
  if (input.turns.length <= from) return undefined;
  for (let i = 0; i < from; i += 1) if (input.turns[i] !== previous.turns[i]) return undefined;
  const answering = indexOfLastUser(input.turns);
  if (answering < from) return undefined;
  const end = answering + 1 + countTrailingSystem(input.turns, answering);

  const added: HistoryTurn[] = [];
  let sentTokens = last.details.sentTokens;
  let imageCount = last.details.imageCount;
  for (let index = from; index < end; index += 1) {
    const source = input.turns[index] as HistoryTurn;
    const turn = index === answering ? withImpliedRequest(source) : withoutImagesUnlessUser(source);
    if (turn !== source) return undefined;
    if (turn.role === 'system') {
      if (input.rules.midConversationSystem) return undefined;
      continue;
    }
    if (isEmpty(turn)) continue;
    // A new PDF weighs against the request's page limit, which only the full build weighs.
    if ((turn.documents?.length ?? 0) > 0) return undefined;
    for (const image of turn.images) {
      // Inline images (a rare fallback) count against the request's size, which only the full build weighs.
      if (Math.max(image.width ?? 0, image.height ?? 0) > IMAGE_LIMITS.maxSidePx || inlineSize(image) > 0) return undefined;
    }
    imageCount += turn.images.length;
    // A second author switches every turn to named text; the first author must stay the same.
    if (turn.role === 'user' && !last.details.multiAuthor && turn.authorId !== last.details.firstAuthor) return undefined;
    added.push(turn);
    sentTokens += turnTokens(turn);
  }
  const newest = added[added.length - 1];
  if (newest === undefined || newest.role !== 'user') return undefined;
  // Past these counts the image limits start leaving images out, and which ones depends on them all.
  if (imageCount > Math.min(input.rules.maxImages, IMAGE_LIMITS.manyImagesThreshold)) return undefined;
  // A system message last time moves past the user turns that now follow it (§6).
  if (last.details.sent[last.details.sent.length - 1]?.role === 'system' && added[0]?.role === 'user') return undefined;
  const systemTokens = estimateTextTokens(input.system);
  const budget = input.budgetTokens - systemTokens;
  // Over the budget, the cut or the truncation of the newest turn decide; leave that to the full build.
  if (sentTokens > budget) return undefined;

  // Every message but the last is kept as it was; the last one may merge with what follows it.
  const kept = last.details.messages;
  const messages: RequestMessage[] = kept.slice(0, -1);
  const sent = [...last.details.sent, ...added];
  for (let i = tailStart(last.details); i < sent.length; i += 1) appendTurn(messages, sent[i] as HistoryTurn, last.details.multiAuthor);
  return {
    result: { request: requestOf(input, messages), omittedTurns: 0, omittedImages: [], omittedFromAnswered: [], estimatedInputTokens: systemTokens + sentTokens },
    messages,
    consumed: end,
    sent,
    verbatim: true,
    hasSystemTurns: last.details.hasSystemTurns,
    imageCount,
    multiAuthor: last.details.multiAuthor,
    firstAuthor: last.details.firstAuthor,
    sentTokens,
  };
}

/** Index in `sent` of the first turn of the last message (consecutive turns of one role form one message). */
function tailStart(details: AssembleDetails): number {
  const sent = details.sent;
  let start = sent.length - 1;
  const role = sent[start]?.role;
  while (start > 0 && sent[start - 1]?.role === role) start -= 1;
  return start;
}
