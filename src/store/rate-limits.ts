import { Repo } from './repo.js';

/** One rate limit a request counts against: its key and how many requests a window allows. */
export interface RateLimitKey {
  readonly key: string;
  readonly perWindow: number;
}

/**
 * Rate limits counted in the database, for replicas sharing PostgreSQL (SQLite, one process,
 * counts in memory: src/core/rate-limits.ts). `take` runs `threadline_take_rate`
 * (migrations/postgres/0002_replicas.sql): one round trip, inside the caller's transaction,
 * whose advisory locks keep two replicas from both taking the last request of a window.
 */
export class RateLimitRepo extends Repo {
  /** Takes one request from every key, or none: 0, or the ms until the first key over its limit allows one. */
  async take(keys: readonly RateLimitKey[], now: number, windowMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    const row = await this.sql.get<{ wait: number }>('SELECT threadline_take_rate(?::text[], ?::integer[], ?, ?) AS wait', [
      toArrayLiteral(keys.map((key) => key.key)),
      toArrayLiteral(keys.map((key) => String(key.perWindow))),
      now,
      windowMs,
    ]);
    return Number(row?.wait ?? 0);
  }
}

/** A PostgreSQL array literal: the executor binds strings and numbers only. */
function toArrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`).join(',')}}`;
}
