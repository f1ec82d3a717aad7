/**
 * The PostgreSQL pool the executor (postgres.ts) runs on: pipelining connections whose BIGINT and
 * NUMERIC columns read as numbers, and the sessions' `synchronous_commit`.
 */
import pg from 'pg';

const INT8 = 20;
const NUMERIC = 1700;
/** One function for every such column: pg asks for a parser per column of every result. */
const parseNumber = (value: string): number => Number(value);

/**
 * `synchronous_commit` for the bot's sessions (DATABASE_SYNCHRONOUS_COMMIT). `off`, the default,
 * is SQLite's trade-off under WAL with `synchronous = NORMAL`: a commit returns before its WAL
 * reaches the disk, so a crash of the database server's machine (or of the server itself)
 * may lose the last fraction of a second of commits, never corrupts, and a crash of the bot
 * loses nothing. `on` waits for the flush on every commit (two per reply).
 */
export const SYNCHRONOUS_COMMIT_LEVELS = ['off', 'local', 'remote_write', 'on', 'remote_apply'] as const;
export type SynchronousCommit = (typeof SYNCHRONOUS_COMMIT_LEVELS)[number];
export const DEFAULT_SYNCHRONOUS_COMMIT: SynchronousCommit = 'off';

export interface PoolOptions {
  readonly max?: number;
  /**
   * Carried by the sessions as `threadline.replica`, which the cache triggers put in their
   * notifications (so a replica tells its own writes from others': replica-caches.ts).
   */
  readonly replicaId?: string;
  /** Set on every connection the pool opens; unset, the server's (or role's) own setting stands. */
  readonly synchronousCommit?: SynchronousCommit;
}

/** A pipelining pool whose BIGINT and NUMERIC columns read as numbers (see PostgresExecutor). */
export function createPool(connectionString: string, options: PoolOptions = {}): pg.Pool {
  const config: pg.PoolConfig = {
    connectionString,
    max: options.max ?? 10,
    pipeline: true,
    // A reply after a quiet spell should find its connection open: a new one costs a TCP and
    // startup handshake (several round trips). pg closes idle ones after 10 s by default.
    idleTimeoutMillis: 5 * 60_000,
    keepAlive: true,
    ...(options.replicaId === undefined ? {} : { options: `-c threadline.replica=${options.replicaId}` }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8 || oid === NUMERIC ? parseNumber : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
    },
  };
  const pool = new pg.Pool(config);
  const level = options.synchronousCommit;
  if (level !== undefined) {
    if (!SYNCHRONOUS_COMMIT_LEVELS.includes(level)) throw new Error(`not a synchronous_commit level: ${String(level)}`);
    // Emitted before the pool hands the connection out, so the SET goes first on it (and pipelines
    // with the first statement). A connection where it failed is broken and fails that statement too.
    pool.on('connect', (client) => {
      client.query(`SET synchronous_commit TO ${level}`).catch(() => undefined);
    });
  }
  // An idle connection the server dropped is discarded by the pool; without a listener the
  // event would end the process. The next query reconnects, and health checks see outages.
  pool.on('error', () => undefined);
  return pool;
}
