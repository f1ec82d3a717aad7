/**
 * A PostgreSQL transaction's statements sent together leave in one socket write. pg writes each
 * statement on its own, and a system call per statement was the largest part of what a reply
 * cost on PostgreSQL beyond SQLite.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqlExecutor } from '../../src/store/sql/executor.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

describe.skipIf(TEST_DATABASE_URL === undefined)(`a transaction's writes${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let store: Store;
  let sql: SqlExecutor;
  beforeAll(async () => {
    database = await createTestDatabase();
    store = await Store.open({ databasePath: '', databaseUrl: database.url });
    sql = store.executor;
    await sql.run('CREATE TABLE scratch (id INTEGER PRIMARY KEY)');
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await sql.run('DELETE FROM scratch');
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });
  const insert = (tx: SqlExecutor, id: number) => tx.run('INSERT INTO scratch (id) VALUES (?)', [id]);
  const ids = async () => (await sql.all<{ id: number }>('SELECT id FROM scratch ORDER BY id')).map((row) => row.id);
  /** Counts the socket writes to the database server from now on. */
  const socketWrites = (): { count: number } => {
    const port = Number(new URL(database.url).port);
    const counter = { count: 0 };
    const socket = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    for (const method of ['_write', '_writev'] as const) {
      const original = socket[method];
      vi.spyOn(socket, method).mockImplementation(function (this: net.Socket, ...args: unknown[]) {
        if (this.remotePort === port) counter.count += 1;
        return original.apply(this, args);
      });
    }
    return counter;
  };

  it('sends BEGIN, the statements and COMMIT in one write', async () => {
    await sql.transaction((tx) => insert(tx, 0), { commitWithStatements: true }); // every statement prepared: later ones are Bind and Execute only
    const writes = socketWrites();
    await sql.transaction((tx) => Promise.all([insert(tx, 1), insert(tx, 2), insert(tx, 3)]), { commitWithStatements: true });
    expect(writes.count).toBe(1);
    expect(await ids()).toEqual([0, 1, 2, 3]);
  });

  it('holds what the body sends a few microtasks later too', async () => {
    const writes = socketWrites();
    await sql.transaction(async (tx) => {
      const first = insert(tx, 1);
      await Promise.resolve();
      await Promise.resolve();
      return tx.commitWith(() => Promise.all([first, insert(tx, 2)]));
    });
    expect(writes.count).toBe(1);
    expect(await ids()).toEqual([1, 2]);
  });

  it('holds nothing past a wait for the database: a statement that needs an answer first goes after it', async () => {
    const writes = socketWrites();
    await sql.transaction(async (tx) => {
      await insert(tx, 1);
      await insert(tx, 2);
    });
    // BEGIN with the first insert, the second, COMMIT: one write each time the body waited.
    expect(writes.count).toBe(3);
    expect(await ids()).toEqual([1, 2]);
  });
});
