import type { Database } from 'better-sqlite3';

/** Delivery keys already handled (e.g. Slack `event_id`), kept durably so retries after a restart are still caught. */
export class ProcessedEventRepo {
  private readonly claimStmt;
  private readonly pruneStmt;

  constructor(db: Database) {
    this.claimStmt = db.prepare<[string, number]>('INSERT OR IGNORE INTO processed_events (key, created_at) VALUES (?, ?)');
    this.pruneStmt = db.prepare<[number]>('DELETE FROM processed_events WHERE created_at < ?');
  }

  /** True the first time a key is seen. */
  claim(key: string, at: number): boolean {
    return this.claimStmt.run(key, at).changes === 1;
  }

  pruneOlderThan(at: number): number {
    return this.pruneStmt.run(at).changes;
  }
}
