/**
 * Exclusive ownership of numbered resources (Discord gateway shards) among the processes sharing
 * a database. On PostgreSQL each process holds session-level advisory locks on one dedicated
 * connection (`locks-postgres.ts`): a process that dies, however it dies, loses its connection and
 * with it every lock, so another takes the resources over. On SQLite there is one process, and
 * everything is simply its own (`LocalLocks`).
 */
import type { SqlExecutor } from './sql/executor.js';
import { PostgresLocks } from './locks-postgres.js';

export { namespaceKey } from './locks-postgres.js';
import { PostgresExecutor } from './sql/postgres.js';

/** Who is live and what each holds, as one survey saw it. */
export interface LockHolders {
  /** This process's replica id. */
  readonly self: string;
  /** Every live replica (this one included) → the resource ids it holds, ascending. */
  readonly replicas: ReadonlyMap<string, readonly number[]>;
}

export interface ResourceLocks {
  /**
   * Announces this replica (the first call, or the first after the connection was lost, opens a
   * new lock connection) and returns who holds what. Throws when the database cannot be reached.
   */
  survey(): Promise<LockHolders>;
  /** Takes resource `id` unless another replica holds it; true when this one holds it now. */
  tryAcquire(id: number): Promise<boolean>;
  release(id: number): Promise<void>;
  /** What this replica holds. */
  held(): ReadonlySet<number>;
  /**
   * `listener` runs whenever the lock connection drops by itself: every lock is gone at that
   * moment (another replica may already hold them), so whatever they guarded must stop.
   */
  onLost(listener: (error: unknown) => void): void;
  /** Releases everything and closes the lock connection. */
  close(): Promise<void>;
}

/** Locks in namespace `name` for the database behind `sql` (PostgreSQL: advisory locks; SQLite: this process's). */
export function openResourceLocks(sql: SqlExecutor, name: string): ResourceLocks {
  // The lock connection is a connection of its own, made like the pool's (same server, types).
  if (sql instanceof PostgresExecutor) return new PostgresLocks(sql.pool.options, name);
  return new LocalLocks();
}

/** One process owns the database (SQLite): every resource is free for it. */
export class LocalLocks implements ResourceLocks {
  private readonly mine = new Set<number>();

  async survey(): Promise<LockHolders> {
    return { self: 'local', replicas: new Map([['local', [...this.mine].sort((a, b) => a - b)]]) };
  }

  async tryAcquire(id: number): Promise<boolean> {
    this.mine.add(id);
    return true;
  }

  async release(id: number): Promise<void> {
    this.mine.delete(id);
  }

  held(): ReadonlySet<number> {
    return this.mine;
  }

  onLost(): void {
    // A process cannot lose its own database connection's locks: there are none.
  }

  async close(): Promise<void> {
    this.mine.clear();
  }
}
