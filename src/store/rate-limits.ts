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
  /**
   * Takes one request from every key, or none: 0, or the ms until the first key over its limit
   * allows one. With `forNewRow`, only when this transaction inserted that message (it may be
   * sent before the insert is answered, behind it on the connection): NOT_NEW otherwise, nothing
   * taken.
   */
  async take(keys: readonly RateLimitKey[], now: number, windowMs: number, forNewRow?: NewMessageRow): Promise<number | typeof NOT_NEW> {
    if (keys.length === 0) return 0;
    const taken = 'threadline_take_rate(?::text[], ?::integer[], ?, ?)';
    const params = [toArrayLiteral(keys.map((key) => key.key)), toArrayLiteral(keys.map((key) => String(key.perWindow))), now, windowMs];
    if (forNewRow === undefined) return Number((await this.sql.get<{ wait: number }>(`SELECT ${taken} AS wait`, params))?.wait ?? 0);
    // A row this transaction inserted carries its transaction id (xmin); a second delivery's does not.
    const row = await this.sql.get<{ wait: number | null }>(
      `SELECT CASE WHEN EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? AND platform_message_id = ? AND xmin = pg_current_xact_id()::xid)
                   THEN ${taken} END AS wait`,
      [forNewRow.conversationId, forNewRow.platformMessageId, ...params],
    );
    return row?.wait === null || row?.wait === undefined ? NOT_NEW : Number(row.wait);
  }
}

/** A message row by its thread and platform id. */
export interface NewMessageRow {
  readonly conversationId: number;
  readonly platformMessageId: string;
}

/** `take(…, forNewRow)`: the message was not inserted by this transaction, so nothing was taken. */
export const NOT_NEW = 'not_new' as const;

/** A PostgreSQL array literal: the executor binds strings and numbers only. */
function toArrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`).join(',')}}`;
}
