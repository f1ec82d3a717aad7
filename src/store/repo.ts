import { SINGLE_PROCESS, type CacheEpochs } from './cache-epochs.js';
import type { SqlExecutor } from './sql/executor.js';

/**
 * A repository: SQL for one part of the schema, and what it keeps in memory. `on(sql)` is the
 * same repository, the same caches, running its statements on a transaction's connection.
 */
export abstract class Repo {
  /** Whether a load may be cached (replicas: nothing changed it meanwhile); see cache-epochs.ts. */
  protected epochs: CacheEpochs = SINGLE_PROCESS;

  constructor(protected readonly sql: SqlExecutor) {}

  on(sql: SqlExecutor): this {
    // The copy's prototype is this repo: it reads the very same cache fields, and only `sql` differs.
    return Object.assign(Object.create(this) as this, { sql });
  }

  /** Shares the store's epochs with this repository (PostgreSQL, where replicas write too). */
  useEpochs(epochs: CacheEpochs): void {
    this.epochs = epochs;
  }
}
