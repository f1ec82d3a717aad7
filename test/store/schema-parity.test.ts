/**
 * SQLite and PostgreSQL migrate separately (each in its own dialect), so nothing but this test
 * keeps them in step: after all migrations both have the same tables, columns and NOT NULLs. A
 * new SQLite migration without its PostgreSQL twin (or the reverse) fails here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

type Schema = Record<string, string[]>;

describe.skipIf(TEST_DATABASE_URL === undefined)(`schema parity${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'threadline-parity-'));
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both backends end with the same tables, columns and NOT NULL constraints', async () => {
    const sqlite = await Store.open({ databasePath: join(dir, 'threadline.db') });
    const postgres = await Store.open({ databasePath: '', databaseUrl: database.url });
    try {
      const sqliteSchema: Schema = {};
      const tables = await sqlite.executor.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
      for (const { name } of tables) {
        const columns = await sqlite.executor.all<{ name: string; notnull: number; pk: number }>(`PRAGMA table_info(${name})`);
        // SQLite's INTEGER PRIMARY KEY may hold NULL on paper; PostgreSQL's primary keys never do.
        sqliteSchema[name] = columns.map((column) => `${column.name}${column.notnull === 1 || column.pk > 0 ? ' NOT NULL' : ''}`).sort();
      }
      const postgresSchema: Schema = {};
      const columns = await postgres.executor.all<{ table_name: string; column_name: string; is_nullable: string }>(
        "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations'",
      );
      for (const column of columns) (postgresSchema[column.table_name] ??= []).push(`${column.column_name}${column.is_nullable === 'NO' ? ' NOT NULL' : ''}`);
      for (const list of Object.values(postgresSchema)) list.sort();
      expect(postgresSchema).toEqual(sqliteSchema);
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });
});
