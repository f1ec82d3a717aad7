import type { UsageRecord } from './types.js';
import { Repo } from './repo.js';

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

interface GroupedRow {
  key: string;
  replies: number;
  input: number;
  output: number;
  cache_read: number;
  cache_creation: number;
  searches: number;
  fetches: number;
}

const grouped = (column: 'channel_id' | 'user_id') =>
  `SELECT ${column} AS key, COUNT(*) AS replies, SUM(input_tokens) AS input, SUM(output_tokens) AS output,
          SUM(cache_read_tokens) AS cache_read, SUM(cache_creation_tokens) AS cache_creation,
          SUM(web_search_requests) AS searches, SUM(web_fetch_requests) AS fetches
     FROM usage WHERE platform = ? AND workspace_id = ? AND created_at >= ?
    GROUP BY ${column} ORDER BY SUM(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) DESC LIMIT 20`;
const BY_CHANNEL = grouped('channel_id');
const BY_USER = grouped('user_id');

export class UsageRepo extends Repo {
  async record(usage: UsageRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO usage (conversation_id, platform, workspace_id, channel_id, user_id, model, request_id,
                          input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                          web_search_requests, web_fetch_requests, stop_reason, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        usage.conversationId,
        usage.platform,
        usage.workspaceId,
        usage.channelId,
        usage.userId,
        usage.model,
        usage.requestId,
        usage.inputTokens,
        usage.outputTokens,
        usage.cacheReadTokens,
        usage.cacheCreationTokens,
        usage.webSearchRequests ?? 0,
        usage.webFetchRequests ?? 0,
        usage.stopReason,
        usage.createdAt,
      ],
    );
  }

  /** Web searches a workspace's replies made since `since` (the daily search budget). */
  async searchesSince(platform: string, workspaceId: string, since: number): Promise<number> {
    const row = await this.sql.get<{ total: number | null }>(
      'SELECT SUM(web_search_requests) AS total FROM usage WHERE platform = ? AND workspace_id = ? AND created_at >= ?',
      [platform, workspaceId, since],
    );
    return row?.total ?? 0;
  }

  /** All tokens (input, output, cache reads and writes) a workspace used since `since`. */
  async totalSince(platform: string, workspaceId: string, since: number): Promise<number> {
    const row = await this.sql.get<{ total: number | null }>(
      `SELECT SUM(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) AS total
         FROM usage WHERE platform = ? AND workspace_id = ? AND created_at >= ?`,
      [platform, workspaceId, since],
    );
    return row?.total ?? 0;
  }

  async report(platform: string, workspaceId: string, since: number, by: 'channel' | 'user'): Promise<UsageRow[]> {
    const rows = await this.sql.all<GroupedRow>(by === 'channel' ? BY_CHANNEL : BY_USER, [platform, workspaceId, since]);
    return rows.map((row) => ({
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
