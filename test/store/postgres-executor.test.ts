/**
 * The PostgreSQL executor's own behaviour: the bot's sessions' `synchronous_commit`
 * (DATABASE_SYNCHRONOUS_COMMIT) and pipelined transactions (BEGIN sent with the first statement,
 * statements started together), which must stay all-or-nothing.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqlExecutor } from '../../src/store/sql/executor.js';
import { createPool } from '../../src/store/sql/postgres-pool.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

describe.skipIf(TEST_DATABASE_URL === undefined)(`PostgreSQL executor${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  const stores: Store[] = [];
  const open = async (synchronousCommit?: 'on' | 'off' | 'local') => {
    const store = await Store.open({ databasePath: '', databaseUrl: database.url, ...(synchronousCommit === undefined ? {} : { synchronousCommit }) });
    stores.push(store);
    return store;
  };
  beforeAll(async () => {
    database = await createTestDatabase();
    // The server's own default says "on" (the test server runs with it off): what the bot sets must win.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${new URL(database.url).pathname.slice(1)} SET synchronous_commit = on`);
    await admin.end();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await database?.drop();
  });

  const setting = async (sql: SqlExecutor) => (await sql.get<{ synchronous_commit: string }>('SHOW synchronous_commit'))?.synchronous_commit;

  it("sets synchronous_commit off on the bot's sessions by default, and what DATABASE_SYNCHRONOUS_COMMIT says otherwise", async () => {
    const byDefault = await open();
    expect(await setting(byDefault.executor)).toBe('off');
    // Every pooled connection, not only the first: several at once open several.
    const seen = await Promise.all(Array.from({ length: 4 }, () => byDefault.executor.transaction((tx) => setting(tx))));
    expect(seen).toEqual(['off', 'off', 'off', 'off']);
    expect(await setting((await open('on')).executor)).toBe('on');
    expect(await setting((await open('local')).executor)).toBe('local');
  });

  it('pipelines, and keeps idle connections for minutes (a reply after a quiet spell needs no new handshake)', async () => {
    const pool = createPool(database.url);
    try {
      expect(pool.options).toMatchObject({ pipeline: true, idleTimeoutMillis: 300_000, keepAlive: true });
      const client = await pool.connect();
      expect((client as unknown as { pipeline: boolean }).pipeline).toBe(true);
      client.release();
    } finally {
      await pool.end();
    }
  });

  it('commits statements started together in one transaction, and rolls all of them back when one fails', async () => {
    const sql = (await open()).executor;
    await sql.run('CREATE TABLE pipelined (id INTEGER PRIMARY KEY)');
    await sql.transaction((tx) => Promise.all([1, 2, 3].map((id) => tx.run('INSERT INTO pipelined (id) VALUES (?)', [id]))));
    const failing = sql.transaction(async (tx) => {
      const results = await Promise.allSettled([4, 1, 5].map((id) => tx.run('INSERT INTO pipelined (id) VALUES (?)', [id])));
      const failed = results.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
    await expect(failing).rejects.toThrow(/duplicate key/);
    // The first statement went out with BEGIN: it was inside the transaction and is gone too.
    expect((await sql.all<{ id: number }>('SELECT id FROM pipelined ORDER BY id')).map((row) => row.id)).toEqual([1, 2, 3]);
  });

  it('leaves a connection usable after a transaction whose body failed with statements still in flight', async () => {
    const sql = (await open()).executor;
    await sql.run('CREATE TABLE in_flight (id INTEGER PRIMARY KEY)');
    const inFlight: Promise<number>[] = [];
    await expect(
      sql.transaction(async (tx) => {
        inFlight.push(tx.run('INSERT INTO in_flight (id) VALUES (?)', [1]), tx.run('SELECT pg_sleep(0.05)'));
        throw new Error('body failed');
      }),
    ).rejects.toThrow('body failed');
    await Promise.allSettled(inFlight);
    expect(await sql.all('SELECT id FROM in_flight')).toEqual([]);
    for (let i = 0; i < 12; i += 1) await sql.transaction((tx) => tx.run('INSERT INTO in_flight (id) VALUES (?)', [i + 10]));
    expect((await sql.all('SELECT id FROM in_flight')).length).toBe(12);
  });
});
