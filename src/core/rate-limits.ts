/**
 * USER_RATE_LIMIT and CHANNEL_RATE_LIMIT for one request: the user's window, then the channel's,
 * and a request the channel refuses takes nothing from the user. SQLite is one process: counted
 * in memory (RateLimiter), as fast as before. PostgreSQL may have replicas: counted in the
 * database inside the intake transaction (`store.rateLimits`), so a user over the limit on one
 * replica is over it on all.
 */
import type { Store } from '../store/index.js';
import type { NewMessageRow, NOT_NEW } from '../store/rate-limits.js';
import { RateLimiter, WINDOW_MS } from './rate-limiter.js';

export interface RequestKeys {
  readonly user: string;
  readonly channel: string;
}

export class RequestRateLimits {
  private readonly users: RateLimiter;
  private readonly channels: RateLimiter;

  constructor(
    private readonly perMinute: { readonly user: number; readonly channel: number },
    private readonly now: () => number,
  ) {
    this.users = new RateLimiter(perMinute.user, now);
    this.channels = new RateLimiter(perMinute.channel, now);
  }

  /**
   * Takes one request from both windows and returns 0, or returns the ms to wait (nothing taken).
   * `tx`: the intake transaction. `forNewRow` (PostgreSQL): only if `tx` inserted that message
   * (see RateLimitRepo.take), NOT_NEW otherwise.
   */
  async take(tx: Store, keys: RequestKeys, forNewRow?: NewMessageRow): Promise<number | typeof NOT_NEW> {
    if (tx.backend === 'postgres') {
      const limits = [
        { key: `user:${keys.user}`, perWindow: this.perMinute.user },
        { key: `channel:${keys.channel}`, perWindow: this.perMinute.channel },
      ].filter((limit) => limit.perWindow > 0);
      return tx.rateLimits.take(limits, this.now(), WINDOW_MS, forNewRow);
    }
    const userWait = this.users.take(keys.user);
    if (userWait > 0) return userWait;
    const channelWait = this.channels.take(keys.channel);
    if (channelWait > 0) this.users.refund(keys.user);
    return channelWait;
  }
}
