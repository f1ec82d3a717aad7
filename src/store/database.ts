import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { ThreadlineError } from '../errors.js';
import { migrate, readMigrations } from './migrate.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Opens (creating the directory and file when needed), tunes and migrates the database. */
export function openDatabase(path: string, migrationsDir = MIGRATIONS_DIR): Database {
  let db: Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new BetterSqlite3(path);
  } catch (cause) {
    throw new ThreadlineError('db_open_failed', `cannot open database ${path}: ${describe(cause)}`, { cause });
  }
  try {
    // WAL lets readers (health checks, usage reports) run while a reply is being written.
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
    migrate(db, readMigrations(migrationsDir), path);
    return db;
  } catch (cause) {
    db.close();
    if (cause instanceof ThreadlineError) throw cause;
    throw new ThreadlineError('db_open_failed', `cannot use database ${path}: ${describe(cause)}`, { cause });
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
