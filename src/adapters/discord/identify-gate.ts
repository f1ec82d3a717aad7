/**
 * Discord lets a bot start at most `max_concurrency` gateway sessions per 5 seconds (per bucket:
 * shard id % max_concurrency; `GET /gateway/bot` names it). discord.js keeps to it within one
 * client, but this replica runs one client per shard, so they all wait at this one gate. (Replicas
 * do not coordinate: an IDENTIFY Discord refuses comes back as op 9, which discord.js retries.)
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class IdentifyGate {
  /** When each bucket may identify next (epoch ms). */
  private readonly nextAt = new Map<number, number>();

  constructor(
    private readonly maxConcurrency: number,
    private readonly windowMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The delay before shard `shardId` may identify; its turn is booked at once, in call order. */
  book(shardId: number): number {
    const bucket = shardId % Math.max(1, this.maxConcurrency);
    const now = this.now();
    const at = Math.max(now, this.nextAt.get(bucket) ?? 0);
    this.nextAt.set(bucket, at + this.windowMs);
    return at - now;
  }

  /** discord.js's IIdentifyThrottler. */
  async waitForIdentify(shardId: number, signal: AbortSignal): Promise<void> {
    const delay = this.book(shardId);
    if (delay > 0) await sleep(delay, undefined, { signal });
  }
}
