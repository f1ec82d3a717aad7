/**
 * Discord lets a bot start at most `max_concurrency` gateway sessions per 5 seconds (per bucket:
 * shard id % max_concurrency; `GET /gateway/bot` names it), for the whole bot: an IDENTIFY sooner
 * than that is refused with op 9 and still spends one of the day's 1,000 session starts. discord.js
 * keeps to it within one client, but this replica runs one client per shard, so they all wait at
 * this one gate; replicas sharing a database also take turns through it (`sharedTurn`).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Discord's window for `max_concurrency` IDENTIFYs per bucket. */
export const IDENTIFY_WINDOW_MS = 5_000;
/**
 * The spacing kept: an IDENTIFY reaches Discord a few ms after its turn was taken, and the next
 * replica's may take less on the way, so turns exactly a window apart could arrive closer.
 */
export const IDENTIFY_SPACING_MS = IDENTIFY_WINDOW_MS + 250;

/** The ms before this replica may identify in `bucket`, 0 once it has just taken that turn (ShardAssignment.identifyTurn). */
export type SharedIdentifyTurn = (bucket: number, windowMs: number) => Promise<number>;

export class IdentifyGate {
  /** When each bucket may identify next (epoch ms). */
  private readonly nextAt = new Map<number, number>();

  constructor(
    private readonly maxConcurrency: number,
    private readonly windowMs = IDENTIFY_WINDOW_MS,
    private readonly now: () => number = Date.now,
    private readonly sharedTurn?: SharedIdentifyTurn,
    /** The database could not be asked: the IDENTIFY goes ahead on this replica's own pacing (op 9, if refused, is retried). */
    private readonly onSharedFailure?: (error: unknown) => void,
  ) {}

  /** The delay before shard `shardId` may identify; its turn is booked at once, in call order. */
  book(shardId: number): number {
    const bucket = this.bucketOf(shardId);
    const now = this.now();
    const at = Math.max(now, this.nextAt.get(bucket) ?? 0);
    this.nextAt.set(bucket, at + this.windowMs);
    return at - now;
  }

  /** discord.js's IIdentifyThrottler. */
  async waitForIdentify(shardId: number, signal: AbortSignal): Promise<void> {
    const delay = this.book(shardId);
    if (delay > 0) await sleep(delay, undefined, { signal });
    if (this.sharedTurn === undefined) return;
    const bucket = this.bucketOf(shardId);
    for (;;) {
      let wait: number;
      try {
        wait = await this.sharedTurn(bucket, this.windowMs);
      } catch (error) {
        this.onSharedFailure?.(error);
        return;
      }
      if (wait <= 0) break;
      await sleep(wait, undefined, { signal });
    }
    // Another replica's turn may have pushed this one back: this replica's next waits a window from now.
    const next = this.now() + this.windowMs;
    if ((this.nextAt.get(bucket) ?? 0) < next) this.nextAt.set(bucket, next);
  }

  private bucketOf(shardId: number): number {
    return shardId % Math.max(1, this.maxConcurrency);
  }
}
