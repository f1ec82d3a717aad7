import type { Socket } from 'node:net';
import pg from 'pg';
import type { SqlExecutor, SqlValue, TransactionOptions } from './executor.js';

/**
 * node-postgres behind the executor. `?` placeholders become `$1, $2, …` once per statement
 * text, and each text is a named prepared statement, parsed once per pooled connection.
 * BIGINT (ids, times in ms) and NUMERIC (sums) come back as numbers: every value the store
 * keeps is far below 2^53.
 *
 * Round trips are what a reply pays for here (SQLite has none), so the pool's connections
 * pipeline: statements issued together (a transaction's BEGIN with its first statement,
 * independent writes a body starts at once) leave in one write and come back in one.
 */
export class PostgresExecutor implements SqlExecutor {
  readonly dialect = 'postgres' as const;
  /** COMMITs of `commitLater` transactions not answered yet: statements outside a transaction wait for them. */
  private readonly committing = new Set<Promise<void>>();

  constructor(
    readonly pool: pg.Pool,
    private readonly statements: Statements = new Statements(),
  ) {}

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  /** One statement on the pool, after the COMMITs still on their way (commitLater): it sees what they wrote. */
  private async query(sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
    if (this.committing.size > 0) await Promise.allSettled([...this.committing]);
    return this.pool.query(this.statements.config(sql, params));
  }

  async insert(sql: string, params: readonly SqlValue[] = []): Promise<number | undefined> {
    return (await this.get<{ id: number }>(returningId(sql), params))?.id;
  }

  async transaction<T>(work: (sql: SqlExecutor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const client = await this.pool.connect();
    const writes = new CoalescedWrites(client);
    let broken: Error | undefined;
    /** A COMMIT sent and not waited for (commitLater): the connection goes back once it is answered. */
    let committing: Promise<void> | undefined;
    try {
      // Not awaited: BEGIN goes out with the body's first statement, one round trip for both.
      // BEGIN fails only with its connection (a broken one, or one left in a failed transaction),
      // and then the statements behind it fail too; its error is the one reported.
      writes.hold();
      const before = options.before;
      if (before !== undefined) {
        const ahead = client.query(this.statements.config(before.sql, before.params));
        ahead.catch(() => undefined);
        before.sent(ahead);
      }
      const begun = client.query('BEGIN');
      begun.catch(() => undefined);
      try {
        const executor = new ClientExecutor(client, this.statements, 0, begun, writes);
        const result = options.commitWithStatements === true ? await executor.commitWith(work) : await work(executor);
        await begun;
        // COMMIT went out behind the body's last statements (commitWith), or goes now.
        if (!executor.committed && options.commitLater !== undefined) {
          committing = this.commitLater(client.query('COMMIT'));
          options.commitLater(committing);
          return result;
        }
        if (!executor.committed) await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // A connection that cannot roll back must not go back to the pool.
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw error;
      }
    } finally {
      if (committing === undefined) client.release(broken);
      else void committing.then(
        () => client.release(),
        (error: unknown) => client.release(error instanceof Error ? error : new Error(String(error))),
      );
    }
  }

  /** COMMIT's outcome, tracked until it settles (see `query`). */
  private commitLater(commit: Promise<pg.QueryResult>): Promise<void> {
    const committing = commit.then((result) => {
      if (result.command !== 'COMMIT') throw new Error(`the transaction was rolled back (${result.command}): one of its statements failed`);
    });
    this.committing.add(committing);
    const settled = () => this.committing.delete(committing);
    committing.then(settled, settled);
    return committing;
  }

  commitWith<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    return work(this);
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A transaction's statements, on the one connection that holds it. */
class ClientExecutor implements SqlExecutor {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly statements: Statements,
    private readonly depth: number,
    /** The transaction's BEGIN, sent but maybe not yet answered. */
    private readonly begun: Promise<unknown>,
    private readonly writes: CoalescedWrites,
    /** Set once COMMIT is on the wire behind the body's statements (shared with savepoints'): anything later would run outside the transaction. */
    private readonly commit: { sent: boolean } = { sent: false },
  ) {}

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async insert(sql: string, params: readonly SqlValue[] = []): Promise<number | undefined> {
    return (await this.get<{ id: number }>(returningId(sql), params))?.id;
  }

  /** COMMIT went out behind the last statements (commitWith): the transaction sends no other. */
  get committed(): boolean {
    return this.commit.sent;
  }

  /**
   * See SqlExecutor.commitWith: `work`'s statements are on the wire once its synchronous part
   * has run, so COMMIT is sent behind them at once and anything later is refused. If a
   * statement fails, PostgreSQL turns that COMMIT into a rollback (its reply says ROLLBACK); the
   * statement's error is the one thrown, and the caller's ROLLBACK finds no transaction, which
   * is harmless. A body that throws once its statements succeeded has committed them (its error
   * is still thrown, and the store drops its caches as after any failure). Inside a savepoint
   * the transaction is not this one's to end: `work` just runs.
   */
  async commitWith<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    if (this.depth > 0) return work(this);
    const body = work(this);
    this.commit.sent = true;
    this.writes.hold();
    const committed = this.client.query('COMMIT');
    const [result, commit] = await Promise.allSettled([body, committed]);
    await this.begun;
    if (result.status === 'rejected') throw result.reason;
    if (commit.status === 'rejected') throw commit.reason;
    if (commit.value.command !== 'COMMIT') throw new Error(`the transaction was rolled back (${commit.value.command}): one of its statements failed`);
    return result.value;
  }

  private refuseAfterCommit(sql: string): void {
    if (this.commit.sent) throw new Error(`a statement sent after its transaction's COMMIT (commitWith, commitWithStatements: send every last statement before waiting for any): ${sql.slice(0, 80)}`);
  }

  /** Sent at once (pipelined behind BEGIN); BEGIN's failure, if any, is the one reported. */
  private async query(sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
    this.refuseAfterCommit(sql);
    this.writes.hold();
    const result = this.client.query(this.statements.config(sql, params));
    try {
      await this.begun;
    } catch (error) {
      result.catch(() => undefined);
      throw error;
    }
    return result;
  }

  async transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const savepoint = `nested_${this.depth + 1}`;
    this.refuseAfterCommit('SAVEPOINT');
    await this.client.query(`SAVEPOINT ${savepoint}`);
    try {
      const result = await work(new ClientExecutor(this.client, this.statements, this.depth + 1, this.begun, this.writes, this.commit));
      await this.client.query(`RELEASE SAVEPOINT ${savepoint}`);
      return result;
    } catch (error) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      await this.client.query(`RELEASE SAVEPOINT ${savepoint}`);
      throw error;
    }
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    throw new Error('close the store, not a transaction');
  }
}

/**
 * One socket write for the statements a transaction sends together. pg writes each statement on
 * its own (a `writev` per statement), and a write is dear: on loopback it also costs the sender
 * the receiving side's work. The ten statements of a reply spent about a millisecond in `writev`
 * alone on a small VM. `hold()` corks the connection's socket until the microtasks running now have run, so
 * everything the body sends before it waits on I/O leaves in one write. Nothing waits longer
 * than that: a statement held is still sent before the event loop turns.
 */
class CoalescedWrites {
  private held = false;

  constructor(private readonly client: pg.PoolClient) {}

  hold(): void {
    if (this.held) return;
    const socket = (this.client as pg.PoolClient & { connection?: { stream?: Socket } }).connection?.stream;
    if (socket === undefined || typeof socket.cork !== 'function') return;
    this.held = true;
    socket.cork();
    // A microtask queued now runs after those queued before it; the tick it then queues runs once
    // the microtask queue is empty, whether `hold()` was called from a microtask or not.
    queueMicrotask(() =>
      process.nextTick(() => {
        this.held = false;
        socket.uncork();
      }),
    );
  }
}

/** Each INSERT text SqlExecutor.insert was given, asking for the new row's id: built once, so the statement lookup sees the same string every time. */
const withReturningId = new Map<string, string>();

function returningId(sql: string): string {
  let text = withReturningId.get(sql);
  if (text === undefined) {
    text = `${sql} RETURNING id`;
    withReturningId.set(sql, text);
  }
  return text;
}

/** Statement texts in PostgreSQL's placeholder style, each with its prepared-statement name. */
class Statements {
  private readonly byText = new Map<string, { name: string; text: string }>();

  config(sql: string, params: readonly SqlValue[]): pg.QueryConfig {
    let statement = this.byText.get(sql);
    if (statement === undefined) {
      let index = 0;
      statement = { name: `threadline_${this.byText.size + 1}`, text: sql.replace(/\?/g, () => `$${(index += 1)}`) };
      this.byText.set(sql, statement);
    }
    return { name: statement.name, text: statement.text, values: params as SqlValue[] };
  }
}
