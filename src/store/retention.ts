import type { Database } from 'better-sqlite3';

export interface PruneResult {
  readonly messages: number;
  readonly conversations: number;
  readonly events: number;
  readonly usage: number;
  /** Slack assistant-panel threads (viewed channel, title) unused since the cutoff. */
  readonly assistantThreads: number;
}

/** Deletes what is older than the retention cutoff; one transaction, indexed deletes. */
export class RetentionRepo {
  private readonly messagesStmt;
  private readonly conversationsStmt;
  private readonly eventsStmt;
  private readonly usageStmt;
  private readonly assistantThreadsStmt;

  constructor(private readonly db: Database) {
    this.messagesStmt = db.prepare<[number]>('DELETE FROM messages WHERE created_at < ?');
    this.conversationsStmt = db.prepare<[number]>(
      'DELETE FROM conversations WHERE last_activity_at < ? AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)',
    );
    this.eventsStmt = db.prepare<[number]>('DELETE FROM processed_events WHERE created_at < ?');
    this.usageStmt = db.prepare<[number]>('DELETE FROM usage WHERE created_at < ?');
    this.assistantThreadsStmt = db.prepare<[number]>('DELETE FROM assistant_threads WHERE updated_at < ?');
  }

  prune(cutoff: number, eventCutoff: number): PruneResult {
    return this.db.transaction(() => ({
      messages: this.messagesStmt.run(cutoff).changes,
      conversations: this.conversationsStmt.run(cutoff).changes,
      events: this.eventsStmt.run(eventCutoff).changes,
      usage: this.usageStmt.run(cutoff).changes,
      assistantThreads: this.assistantThreadsStmt.run(cutoff).changes,
    }))();
  }
}
