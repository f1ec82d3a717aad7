import type { Database } from 'better-sqlite3';
import type { UsageRecord } from './types.js';

export class UsageRepo {
  private readonly insertStmt;

  constructor(db: Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO usage (conversation_id, platform, workspace_id, channel_id, user_id, model, request_id,
                          input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, stop_reason, created_at)
       VALUES (@conversationId, @platform, @workspaceId, @channelId, @userId, @model, @requestId,
               @inputTokens, @outputTokens, @cacheReadTokens, @cacheCreationTokens, @stopReason, @createdAt)`,
    );
  }

  record(usage: UsageRecord): void {
    this.insertStmt.run(usage);
  }
}
