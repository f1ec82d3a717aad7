/** Opening a PostgreSQL store's executor: the pool, a first round trip, and the migrations. */
import { fileURLToPath } from 'node:url';
import { ThreadlineError } from '../errors.js';
import { readMigrations } from './migrate.js';
import { migratePostgres } from './migrate-postgres.js';
import type { SqlExecutor } from './sql/executor.js';
import { PostgresExecutor } from './sql/postgres.js';
import { createPool, type SynchronousCommit } from './sql/postgres-pool.js';

export const POSTGRES_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/postgres/', import.meta.url));

export async function openPostgres(url: string, replicaId: string, synchronousCommit: SynchronousCommit): Promise<SqlExecutor> {
  const where = redactedUrl(url);
  const pool = createPool(url, { replicaId, synchronousCommit });
  try {
    await pool.query('SELECT 1');
  } catch (cause) {
    await pool.end().catch(() => undefined);
    throw new ThreadlineError('db_open_failed', `cannot open database ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  try {
    await migratePostgres(pool, readMigrations(POSTGRES_MIGRATIONS_DIR), where);
  } catch (cause) {
    await pool.end().catch(() => undefined);
    if (cause instanceof ThreadlineError) throw cause;
    throw new ThreadlineError('db_open_failed', `cannot use database ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return new PostgresExecutor(pool);
}

/** The URL as it may appear in a log line: without its password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'DATABASE_URL (unparseable)';
  }
}
