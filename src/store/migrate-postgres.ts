/**
 * PostgreSQL's schema steps (`migrations/postgres/NNNN_name.sql`), numbered and append-only like
 * SQLite's, tracked in `schema_migrations` (PostgreSQL has no `user_version`). Each step runs in
 * its own transaction with its row in that table; a database a newer threadline migrated is
 * refused. Replicas starting together take turns through an advisory lock, so each step runs once.
 */
import type pg from 'pg';
import { ThreadlineError } from '../errors.js';
import type { Migration } from './migrate.js';

/** Any fixed number: the advisory lock's name ("threadline migrations"). */
const MIGRATION_LOCK = 7_341_209_001;

export async function migratePostgres(pool: pg.Pool, migrations: readonly Migration[], where: string): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const current = Number((await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations')).rows[0]?.version ?? 0);
      const latest = migrations.length;
      if (current > latest) {
        throw new ThreadlineError(
          'db_newer_version',
          `database ${where} has schema version ${current}, but this threadline only knows up to ${latest}: it was written by a newer release; upgrade threadline or point DATABASE_URL at another database`,
        );
      }
      const applied: number[] = [];
      for (const migration of migrations.slice(current)) {
        try {
          await client.query('BEGIN');
          // No parameters: the simple protocol, so one file may hold many statements.
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
          await client.query('COMMIT');
        } catch (cause) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new ThreadlineError('db_migration_failed', `migration ${migration.version}_${migration.name} failed`, { cause });
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
