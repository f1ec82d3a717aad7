/**
 * Stored thread + instructions + model → one Messages API request. Pure: no I/O, no clock, so
 * the same thread always yields the same bytes (the prompt cache depends on that) and every rule
 * is testable from a table.
 */
import { ThreadlineError } from '../../errors.js';
import { limitAttachments } from '../attachment-limits.js';
import { withStrideBreakpoints } from '../cache-breakpoints.js';
import { estimateTextTokens } from '../tokens.js';
import { chooseCut, truncateNewestIfHuge } from './fit.js';
import { placeSystemTurns, sameTurns, toMessages } from './placement.js';
import { countTrailingSystem, indexOfLastUser, isEmpty, sumTokens, withImpliedRequest, withoutImagesUnlessUser } from './turns.js';
import type { AssembleDetails, AssembleInput, AssembleResult, ClaudeRequest, HistoryTurn, RequestMessage } from './types.js';

export function assemble(input: AssembleInput): AssembleResult {
  return assembleInDetail(input).result;
}

export function assembleInDetail(input: AssembleInput): AssembleDetails {
  const answering = indexOfLastUser(input.turns);
  if (answering < 0) throw new ThreadlineError('input_invalid', 'nothing to answer: the thread has no user message');
  const end = answering + 1 + countTrailingSystem(input.turns, answering);

  // One pass over a thread that may be long: what is sent, and what the later steps need to know.
  let turns: HistoryTurn[] = [];
  let imageCount = 0;
  let hasSystemTurns = false;
  let firstAuthor: string | undefined;
  let multiAuthor = false;
  let verbatim = true;
  for (let index = 0; index < end; index += 1) {
    const source = input.turns[index] as HistoryTurn;
    const turn = index === answering ? withImpliedRequest(source) : withoutImagesUnlessUser(source);
    if (turn !== source) verbatim = false;
    if (turn.role === 'system') {
      if (!input.rules.midConversationSystem) continue;
      hasSystemTurns = true;
    }
    if (isEmpty(turn)) continue;
    turns.push(turn);
    imageCount += turn.images.length + (turn.documents?.length ?? 0);
    if (turn.role === 'user') {
      firstAuthor ??= turn.authorId;
      if (turn.authorId !== firstAuthor) multiAuthor = true;
    }
  }

  // PDFs may take most of the budget, never all of it: the conversation's text must fit too.
  const documentTokens = Math.floor((input.budgetTokens - estimateTextTokens(input.system)) * 0.8);
  const images = imageCount === 0 ? { turns, omitted: [] } : limitAttachments(turns, input.rules, documentTokens);
  turns = images.turns;
  const answeredIndex = indexOfLastUser(turns);

  const systemTokens = estimateTextTokens(input.system);
  const budget = input.budgetTokens - systemTokens;
  const total = sumTokens(turns);
  const cut = total <= budget ? 0 : chooseCut(turns, budget);
  const kept = cut === 0 ? turns : turns.slice(cut);
  const keptTokens = cut === 0 ? total : sumTokens(kept);
  const fitted = truncateNewestIfHuge(kept, budget, keptTokens);
  const sentTokens = fitted === kept ? keptTokens : sumTokens(fitted);
  const placed = hasSystemTurns ? placeSystemTurns(fitted) : fitted;
  const messages = toMessages(placed, multiAuthor, cut);

  return {
    result: {
      request: requestOf(input, messages),
      omittedTurns: cut,
      omittedImages: images.omitted.map((entry) => entry.name),
      omittedFromAnswered: images.omitted.filter((entry) => entry.turnIndex === answeredIndex).map((entry) => entry.name),
      estimatedInputTokens: systemTokens + sentTokens,
    },
    messages,
    consumed: end,
    sent: placed,
    verbatim: verbatim && images.omitted.length === 0 && cut === 0 && fitted === kept && sameTurns(placed, fitted),
    hasSystemTurns,
    imageCount,
    multiAuthor,
    firstAuthor,
    sentTokens,
  };
}

/** The body for `messages`, which stay unmarked: the cache breakpoints go on copies (cache-breakpoints.ts). */
export function requestOf(input: AssembleInput, messages: readonly RequestMessage[]): ClaudeRequest {
  return {
    model: input.rules.id,
    max_tokens: Math.min(input.maxTokens, input.rules.maxOutputTokens),
    system: [{ type: 'text', text: input.system, cache_control: { type: 'ephemeral' } }],
    messages: withStrideBreakpoints(messages),
    // Automatic caching: one breakpoint on the last block, so each turn reads the previous turn's prefix.
    cache_control: { type: 'ephemeral' },
  };
}
