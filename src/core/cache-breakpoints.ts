/**
 * Where a request asks the prompt cache to store its prefix (anthropic-api-rules.md §10).
 *
 * The top-level automatic breakpoint sits on the last block, and a later request finds that
 * entry only when it lies within 20 blocks before one of its own breakpoints. A thread where
 * people talk for a while before mentioning the bot again grows by more than 20 blocks between
 * two requests, and would then read nothing from the cache. So every request also marks blocks
 * at fixed positions (every `CACHE_STRIDE_BLOCKS`-th block of its messages, the two nearest the
 * end): their lookback windows tile the blocks before the last one, so the previous request's
 * end is found up to ~36 blocks back. Fixed positions keep this stateless: a request built from
 * scratch and one extended from the last (request/request-builder.ts) get the same marks.
 *
 * Markers are not part of the cached prefix, so moving them from turn to turn costs nothing.
 */
import type { ContentBlock, RequestMessage } from './request/types.js';

/** Below the API's 20-block lookback, so consecutive windows overlap instead of leaving gaps. */
export const CACHE_STRIDE_BLOCKS = 16;
/** Four breakpoints at most: the system prompt's and the automatic one leave two. */
const STRIDE_BREAKPOINTS = 2;

const EPHEMERAL = { type: 'ephemeral' } as const;

/**
 * The messages with the stride breakpoints set. Never changes what it is given: a message that
 * gets a mark is copied, every other one is the same object, so a request that is extended
 * later keeps sharing them.
 */
export function withStrideBreakpoints(messages: readonly RequestMessage[]): RequestMessage[] {
  let total = 0;
  for (const message of messages) total += message.content.length;
  const targets = stridePositions(total);
  const marked = messages.slice();
  if (targets.length === 0) return marked;

  let start = total;
  for (let i = marked.length - 1; i >= 0 && start > (targets[targets.length - 1] as number); i -= 1) {
    const message = marked[i] as RequestMessage;
    start -= message.content.length;
    const inMessage = targets.filter((position) => position >= start && position < start + message.content.length);
    if (inMessage.length === 0) continue;
    marked[i] = {
      role: message.role,
      content: message.content.map((block, j): ContentBlock => (inMessage.includes(start + j) ? { ...block, cache_control: EPHEMERAL } : block)),
    };
  }
  return marked;
}

/**
 * Block positions (0-based, over all message blocks) that get a stride breakpoint: the largest
 * multiples of the stride before the last block, which the automatic breakpoint already covers.
 */
export function stridePositions(totalBlocks: number): number[] {
  const positions: number[] = [];
  for (let k = Math.floor((totalBlocks - 2) / CACHE_STRIDE_BLOCKS); k >= 1 && positions.length < STRIDE_BREAKPOINTS; k -= 1) {
    positions.push(k * CACHE_STRIDE_BLOCKS);
  }
  return positions;
}
