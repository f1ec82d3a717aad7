import { Repo } from './repo.js';

export interface PruneResult {
  readonly messages: number;
  readonly conversations: number;
  readonly events: number;
  readonly usage: number;
  /** Slack assistant-panel threads (viewed channel, title) unused since the cutoff. */
  readonly assistantThreads: number;
}

/** Deletes what is older than the retention cutoff; one transaction (the store's), indexed deletes. */
export class RetentionRepo extends Repo {
  async prune(cutoff: number, eventCutoff: number): Promise<PruneResult> {
    // Rate-limit hits matter for a minute; threadline_take_rate clears a key's old ones when it is hit
    // again, these are of keys not hit since (PostgreSQL; the table stays empty on SQLite).
    await this.sql.run('DELETE FROM rate_limit_hits WHERE at < ?', [eventCutoff]);
    return {
      messages: await this.sql.run('DELETE FROM messages WHERE created_at < ?', [cutoff]),
      conversations: await this.sql.run(
        'DELETE FROM conversations WHERE last_activity_at < ? AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)',
        [cutoff],
      ),
      events: await this.sql.run('DELETE FROM processed_events WHERE created_at < ?', [eventCutoff]),
      usage: await this.sql.run('DELETE FROM usage WHERE created_at < ?', [cutoff]),
      assistantThreads: await this.sql.run('DELETE FROM assistant_threads WHERE updated_at < ?', [cutoff]),
    };
  }
}
