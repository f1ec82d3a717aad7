/**
 * `transaction(work, { commitWithStatements: true })` on PostgreSQL: COMMIT leaves with the body's
 * statements (one round trip for the whole transaction), a failed statement still rolls every
 * write back, and a statement sent after COMMIT is refused instead of running outside the
 * transaction. And what a transaction sends together leaves in one socket write: pg writes each
 * statement on its own, and a system call per statement was the largest part of what a reply
 * cost on PostgreSQL beyond SQLite.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqlExecutor } from '../../src/store/sql/executor.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

describe.skipIf(TEST_DATABASE_URL === undefined)(`commitWithStatements${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
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
  const ids = async () => (await sql.all<{ id: number }>('SELECT id FROM scratch ORDER BY id')).map((row) => row.id);
  const insert = (tx: SqlExecutor, id: number) => tx.run('INSERT INTO scratch (id) VALUES (?)', [id]);
  /** Events the test marks, with 'COMMIT sent' wherever a COMMIT leaves. */
  const commitsSent = (): string[] => {
    const events: string[] = [];
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      if (args[0] === 'COMMIT') events.push('COMMIT sent');
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query);
    return events;
  };

  it('sends COMMIT before the first statement is answered, and commits every write', async () => {
    const events = commitsSent();
    await sql.transaction(
      async (tx) => {
        await Promise.all([insert(tx, 1).then(() => events.push('first answered')), insert(tx, 2)]);
      },
      { commitWithStatements: true },
    );
    expect(events).toEqual(['COMMIT sent', 'first answered']);
    expect(await ids()).toEqual([1, 2]);
  });

  it('rolls every write back when one statement fails, and throws its error', async () => {
    await insert(sql, 7);
    const failed = sql.transaction((tx) => Promise.all([insert(tx, 1), insert(tx, 7), insert(tx, 2)]), { commitWithStatements: true });
    await expect(failed).rejects.toThrow(/duplicate key/);
    expect(await ids()).toEqual([7]);
    // The connection went back to the pool usable.
    await sql.transaction((tx) => insert(tx, 3), { commitWithStatements: true });
    expect(await ids()).toEqual([3, 7]);
  });

  it('refuses a statement sent after the body waited: it never runs outside the transaction', async () => {
    const late = sql.transaction(
      async (tx) => {
        await insert(tx, 1);
        await insert(tx, 2);
      },
      { commitWithStatements: true },
    );
    await expect(late).rejects.toThrow(/after its transaction's COMMIT/);
    // The statement sent in time is committed with COMMIT; the late one ran nowhere.
    expect(await ids()).toEqual([1]);
  });

  it('commitWith: COMMIT leaves with the last statements of a body that waited before them, and every write is committed', async () => {
    const events = commitsSent();
    const result = await store.transaction(async (tx) => {
      await insert(tx.executor, 1);
      events.push('first answered');
      return tx.commitWith((last) => insert(last.executor, 2).then((changed) => (events.push('last answered'), changed)));
    });
    expect(result).toBe(1);
    expect(events).toEqual(['first answered', 'COMMIT sent', 'last answered']);
    expect(await ids()).toEqual([1, 2]);
  });

  it('commitWith: a failing last statement rolls the whole transaction back, and nothing may follow it', async () => {
    await insert(sql, 7);
    await expect(store.transaction(async (tx) => {
      await insert(tx.executor, 1);
      return tx.commitWith((last) => insert(last.executor, 7));
    })).rejects.toThrow(/duplicate key/);
    expect(await ids()).toEqual([7]);
    await expect(store.transaction(async (tx) => {
      await tx.commitWith((last) => insert(last.executor, 2));
      await insert(tx.executor, 3);
    })).rejects.toThrow(/after its transaction's COMMIT/);
    expect(await ids()).toEqual([2, 7]);
  });

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

/**
 * `store.transactionCommittedLater` on PostgreSQL: the body's result comes back with COMMIT still
 * on its way, and the process reads its own writes meanwhile: a statement outside a transaction
 * waits for that COMMIT. A COMMIT that fails rejects `committed`, commits nothing, and drops the
 * caches. SQLite commits before it resolves.
 */
describe.skipIf(TEST_DATABASE_URL === undefined)(`transactionCommittedLater${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    database = await createTestDatabase();
    store = await Store.open({ databasePath: '', databaseUrl: database.url });
    // COMMIT checks each row (a deferred trigger): slowly for id 1, failing for id 2.
    await store.executor.run('CREATE TABLE slow_commit (id INTEGER PRIMARY KEY)');
    await store.executor.run(`CREATE FUNCTION check_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 1 THEN PERFORM pg_sleep(0.3); END IF;
        IF NEW.id = 2 THEN RAISE EXCEPTION 'refused at commit'; END IF;
        RETURN NULL;
      END $$`);
    await store.executor.run('CREATE CONSTRAINT TRIGGER check_at_commit AFTER INSERT ON slow_commit DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_at_commit()');
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('hands back the result before COMMIT is answered; a statement outside the transaction sees the write', async () => {
    let committedYet = false;
    const { result, committed } = await store.transactionCommittedLater(async (tx) => {
      await tx.executor.run('INSERT INTO slow_commit (id) VALUES (1)');
      return 'body done';
    });
    void committed.then(() => (committedYet = true));
    expect(result).toBe('body done');
    expect(committedYet).toBe(false);
    expect(await store.executor.get('SELECT id FROM slow_commit WHERE id = 1')).toEqual({ id: 1 });
    await committed;
  });

  it('a COMMIT that fails rejects `committed`, stores nothing, and drops the caches', async () => {
    const invalidate = vi.spyOn(store.messages, 'invalidate');
    const { committed } = await store.transactionCommittedLater((tx) => tx.executor.run('INSERT INTO slow_commit (id) VALUES (2)'));
    await expect(committed).rejects.toThrow(/refused at commit/);
    expect(invalidate).toHaveBeenCalled();
    expect(await store.executor.get('SELECT id FROM slow_commit WHERE id = 2')).toBeUndefined();
    // The pool goes on.
    expect(await store.executor.get('SELECT 1 AS one')).toEqual({ one: 1 });
  });
});
