import { Repo } from './repo.js';

/** Delivery keys already handled (e.g. Slack `event_id`), kept durably so retries after a restart are still caught. */
export class ProcessedEventRepo extends Repo {
  /** True the first time a key is seen: the primary key decides, so this holds across processes. */
  async claim(key: string, at: number): Promise<boolean> {
    return (await this.sql.run('INSERT INTO processed_events (key, created_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, at])) === 1;
  }

  /** Deletes a key; true when it was there (one caller wins, also across processes). */
  async release(key: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM processed_events WHERE key = ?', [key])) === 1;
  }

  async pruneOlderThan(at: number): Promise<number> {
    return this.sql.run('DELETE FROM processed_events WHERE created_at < ?', [at]);
  }
}
