/**
 * The context budget, corrected by what the API counted. The token estimate (tokens.ts) errs
 * high for the scripts it knows, but a thread of something it underrates (a dense script, long
 * runs of symbols) could still be sent over the model's window, and would then answer 400 on
 * every reply. Each reply's usage says how many tokens the request really had; where that is more
 * than the estimate, this conversation's budget shrinks by the shortfall from then on. A 400
 * "prompt is too long" does the same from the counts it names, and the reply is tried again.
 *
 * The factor only grows, in fixed steps, so the budget (and with it the trim point the prompt
 * cache depends on) changes a few times in a thread's life at most, not on every reply. It is
 * kept in memory: after a restart a thread may pay one more 400 to learn it again.
 */
import { LRUCache } from 'lru-cache';

const STEP = 1.25;
/** About 14×: past that an estimate is not worth correcting. */
const MAX_FACTOR = STEP ** 12;
/** Conversations remembered; the rest start again from the estimate. */
const REMEMBERED = 4096;

/** Of the maximum a 400 names, what a corrected budget aims at. */
const WINDOW_SHARE = 0.9;

const TOO_LONG = /prompt is too long: (\d+) tokens > (\d+) maximum/i;

export class BudgetCalibration {
  private readonly factors = new LRUCache<number, number>({ max: REMEMBERED });

  /** The budget to hand the request builder for this conversation, in estimated tokens. */
  budget(conversationId: number, tokens: number): number {
    return Math.floor(tokens / this.factor(conversationId));
  }

  factor(conversationId: number): number {
    return this.factors.get(conversationId) ?? 1;
  }

  /** After a reply: the API counted `counted` input tokens for a request estimated at `estimated`. */
  observe(conversationId: number, estimated: number, counted: number): void {
    if (estimated > 0) this.raise(conversationId, counted / estimated);
  }

  /**
   * After a 400: when it says the prompt was too long, shrinks the budget so that the next try
   * fits and returns true; false for any other error, or when the budget cannot shrink further.
   * `budgetTokens` is the budget before calibration, as passed to `budget`.
   */
  tooLong(conversationId: number, estimated: number, budgetTokens: number, errorMessage: string): boolean {
    const match = TOO_LONG.exec(errorMessage);
    if (match === null) return false;
    const tokensPerEstimated = Number(match[1]) / Math.max(1, estimated);
    // A full budget must come to the maximum with room to spare, and the factor must grow by a step at least.
    const needed = (tokensPerEstimated * budgetTokens) / (Number(match[2]) * WINDOW_SHARE);
    return this.raise(conversationId, Math.max(needed, this.factor(conversationId) * STEP));
  }

  /** Sets the factor to the first step at or above `ratio`; false when it is already there or at the cap. */
  private raise(conversationId: number, ratio: number): boolean {
    const current = this.factor(conversationId);
    let next = current;
    while (next < ratio && next < MAX_FACTOR) next *= STEP;
    if (next === current) return false;
    this.factors.set(conversationId, next);
    return true;
  }
}
