/**
 * Numbered, append-only schema steps tracked with `PRAGMA user_version` (the Signal-Desktop
 * way): each step runs in its own transaction, and a database written by a newer threadline is
 * refused rather than silently misread.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { ThreadlineError } from '../errors.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(directory: string): Migration[] {
  const migrations = readdirSync(directory)
    .map((file) => ({ file, match: MIGRATION_FILE.exec(file) }))
    .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ file, match }) => ({
      version: Number(match[1]),
      name: match[2] as string,
      sql: readFileSync(join(directory, file), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new ThreadlineError(
        'db_migration_failed',
        `migrations must be numbered 0001, 0002, … without gaps; found ${String(migration.version).padStart(4, '0')}_${migration.name}.sql at position ${index + 1}`,
      );
    }
  });
  return migrations;
}

/** Applies what is missing; returns the versions applied. */
export function migrate(db: Database, migrations: readonly Migration[], path: string): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length;
  if (current > latest) {
    throw new ThreadlineError(
      'db_newer_version',
      `database ${path} has schema version ${current}, but this threadline only knows up to ${latest}: it was written by a newer release; upgrade threadline or point DATABASE_PATH at another file`,
    );
  }
  const applied: number[] = [];
  const pending = migrations.slice(current);
  if (pending.length === 0) return applied;
  // A step that rebuilds a table (SQLite's way to change a constraint) drops the old one: with
  // foreign keys on, that drop would cascade into every row pointing at it. The pragma cannot
  // change inside a transaction, so it is off around the steps and each step checks every
  // reference itself before it commits.
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    for (const migration of pending) {
      const step = db.transaction(() => {
        db.exec(migration.sql);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new Error(`${broken.length} rows would break a foreign key: ${JSON.stringify(broken.slice(0, 3))}`);
        db.pragma(`user_version = ${migration.version}`);
      });
      try {
        step();
      } catch (cause) {
        throw new ThreadlineError('db_migration_failed', `migration ${migration.version}_${migration.name} failed`, { cause });
      }
      applied.push(migration.version);
    }
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys === 1 ? 'ON' : 'OFF'}`);
  }
  return applied;
}
