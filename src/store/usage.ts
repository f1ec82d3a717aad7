import type { Database } from 'better-sqlite3';
import type { UsageRecord } from './types.js';

export interface UsageRow {
  readonly key: string;
  readonly replies: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheCreationTokens: number;
  readonly webSearchRequests: number;
  readonly webFetchRequests: number;
}

export class UsageRepo {
  private readonly insertStmt;
  private readonly totalStmt;
  private readonly searchesStmt;
  private readonly byChannelStmt;
  private readonly byUserStmt;

  constructor(db: Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO usage (conversation_id, platform, workspace_id, channel_id, user_id, model, request_id,
                          input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                          web_search_requests, web_fetch_requests, stop_reason, created_at)
       VALUES (@conversationId, @platform, @workspaceId, @channelId, @userId, @model, @requestId,
               @inputTokens, @outputTokens, @cacheReadTokens, @cacheCreationTokens,
               @webSearchRequests, @webFetchRequests, @stopReason, @createdAt)`,
    );
    this.totalStmt = db.prepare<[string, string, number], { total: number | null }>(
      `SELECT SUM(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) AS total
         FROM usage WHERE platform = ? AND workspace_id = ? AND created_at >= ?`,
    );
    this.searchesStmt = db.prepare<[string, string, number], { total: number | null }>(
      'SELECT SUM(web_search_requests) AS total FROM usage WHERE platform = ? AND workspace_id = ? AND created_at >= ?',
    );
    const grouped = (column: string) =>
      db.prepare<
        [string, string, number],
        { key: string; replies: number; input: number; output: number; cache_read: number; cache_creation: number; searches: number; fetches: number }
      >(
        `SELECT ${column} AS key, COUNT(*) AS replies, SUM(input_tokens) AS input, SUM(output_tokens) AS output,
                SUM(cache_read_tokens) AS cache_read, SUM(cache_creation_tokens) AS cache_creation,
                SUM(web_search_requests) AS searches, SUM(web_fetch_requests) AS fetches
           FROM usage WHERE platform = ? AND workspace_id = ? AND created_at >= ?
          GROUP BY ${column} ORDER BY SUM(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) DESC LIMIT 20`,
      );
    this.byChannelStmt = grouped('channel_id');
    this.byUserStmt = grouped('user_id');
  }

  record(usage: UsageRecord): void {
    this.insertStmt.run({ webSearchRequests: 0, webFetchRequests: 0, ...usage });
  }

  /** Web searches a workspace's replies made since `since` (the daily search budget). */
  searchesSince(platform: string, workspaceId: string, since: number): number {
    return this.searchesStmt.get(platform, workspaceId, since)?.total ?? 0;
  }

  /** All tokens (input, output, cache reads and writes) a workspace used since `since`. */
  totalSince(platform: string, workspaceId: string, since: number): number {
    return this.totalStmt.get(platform, workspaceId, since)?.total ?? 0;
  }

  report(platform: string, workspaceId: string, since: number, by: 'channel' | 'user'): UsageRow[] {
    const statement = by === 'channel' ? this.byChannelStmt : this.byUserStmt;
    return statement.all(platform, workspaceId, since).map((row) => ({
      key: row.key,
      replies: row.replies,
      inputTokens: row.input,
      outputTokens: row.output,
      cacheReadTokens: row.cache_read,
      cacheCreationTokens: row.cache_creation,
      webSearchRequests: row.searches,
      webFetchRequests: row.fetches,
    }));
  }
}
