/** Fitting a thread to the input token budget: leaving out the oldest turns, shortening a huge newest one. */
import { estimateDocumentTokens } from '../documents/pdf.js';
import { estimateImageTokens, estimateTextTokens, prefixWithinTokens } from '../tokens.js';
import { indexOfLastUser, turnTokens } from './turns.js';
import type { HistoryTurn } from './types.js';

/** Room left for the truncation notice after a message is cut to fit. */
const TRUNCATION_NOTICE_TOKENS = 60;

/**
 * How many of the oldest turns to leave out. The cut only lands on fixed boundaries (every
 * quarter budget of cumulative tokens from the thread's start), so it moves in steps and the
 * cached prefix survives many turns between moves. The newest user turn is never cut.
 */
export function chooseCut(turns: readonly HistoryTurn[], budget: number): number {
  const costs = turns.map(turnTokens);
  const total = costs.reduce((sum, cost) => sum + cost, 0);
  if (total <= budget) return 0;
  const protectedFrom = indexOfLastUser(turns);
  const step = Math.max(1, Math.floor(budget / 4));
  let cumulative = 0;
  let fallback = protectedFrom;
  for (let cut = 1; cut <= protectedFrom; cut += 1) {
    const before = cumulative;
    cumulative += costs[cut - 1] as number;
    if (total - cumulative > budget) continue;
    if (fallback === protectedFrom) fallback = cut;
    if (Math.floor(cumulative / step) > Math.floor(before / step)) return cut;
  }
  return fallback;
}

/** A single message larger than the whole budget is shortened rather than sent to a sure 400. */
export function truncateNewestIfHuge(turns: HistoryTurn[], budget: number, totalTokens: number): HistoryTurn[] {
  const last = indexOfLastUser(turns);
  const turn = turns[last];
  if (turn === undefined) return turns;
  const othersCost = totalTokens - turnTokens(turn);
  const room =
    budget -
    othersCost -
    turn.images.reduce((sum, image) => sum + estimateImageTokens(image), 0) -
    (turn.documents ?? []).reduce((sum, document) => sum + estimateDocumentTokens(document.pages), 0);
  if (estimateTextTokens(turn.text) <= room) return turns;
  const keepChars = prefixWithinTokens(turn.text, Math.max(0, room - TRUNCATION_NOTICE_TOKENS));
  const shortened = { ...turn, text: `${turn.text.slice(0, keepChars)}\n[message truncated: it was ${turn.text.length} characters, too long for the context window]` };
  return turns.map((t, i) => (i === last ? shortened : t));
}
