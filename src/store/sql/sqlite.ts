import type { Database, RunResult, Statement } from 'better-sqlite3';
import type { SqlExecutor, SqlValue } from './executor.js';

/**
 * better-sqlite3 behind the asynchronous executor. Every statement still runs synchronously
 * (a resolved promise comes back), so the cost over the plain driver is one microtask.
 *
 * One connection serves the whole process, so a transaction must keep everyone else out while
 * its body awaits: statements from outside wait until it ends (they run at once otherwise), and
 * transactions queue behind each other, first come first served, each handed the connection by
 * the one before (a burst of replies wakes one waiter per transaction, not all of them), with
 * waiting single statements first and I/O served between hand-overs (Connection.release). A
 * transaction's own statements go through the executor its body receives; using the outer one
 * inside a transaction would wait for itself.
 */
export class SqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  private readonly connection: Connection;

  constructor(db: Database, options: { readonly waitLimitMs?: number } = {}) {
    this.connection = new Connection(db, options.waitLimitMs ?? 10_000);
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.connection.alone(() => this.connection.statement(sql).get(...params) as T | undefined);
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.connection.alone(() => this.connection.statement(sql).all(...params) as T[]);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.connection.alone(() => this.connection.statement(sql).run(...params).changes);
  }

  insert(sql: string, params: readonly SqlValue[] = []): Promise<number | undefined> {
    return this.connection.alone(() => insertedId(this.connection.statement(sql).run(...params)));
  }

  transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const connection = this.connection;
    return connection.holding(async () => {
      // Prepared once, like every statement here (exec would parse them on every reply).
      connection.statement('BEGIN IMMEDIATE').run();
      try {
        const result = await work(new TransactionExecutor(connection, 0));
        connection.statement('COMMIT').run();
        return result;
      } catch (error) {
        if (connection.db.inTransaction) connection.statement('ROLLBACK').run();
        throw error;
      }
    });
  }

  commitWith<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    return work(this);
  }

  async ping(): Promise<boolean> {
    try {
      return await this.connection.alone(() => {
        this.connection.statement('SELECT 1').get();
        return this.connection.db.open;
      });
    } catch {
      return false;
    }
  }

  /** Closes once every transaction queued before it has run (a single statement would go ahead of them). */
  close(): Promise<void> {
    return this.connection.holding(() => {
      if (this.connection.db.open) this.connection.db.close();
    });
  }

  /** Every statement text run so far. */
  statementTexts(): string[] {
    return this.connection.statementTexts();
  }

  /** The driver itself: migrations and tests that look under the store. */
  get database(): Database {
    return this.connection.db;
  }
}

/** The id of the row an INSERT wrote; undefined when it wrote none. */
function insertedId(result: RunResult): number | undefined {
  return result.changes === 0 ? undefined : Number(result.lastInsertRowid);
}

class Connection {
  private readonly statements = new Map<string, Statement>();
  /** A transaction holds the connection (its body awaits, so others must not slip in between). */
  private held = false;
  /**
   * Callers waiting for the connection, each handed it in turn: single statements before queued
   * transactions, first come first served within each. A statement is over in microseconds, and
   * behind a burst's queue of transactions it would wait for all of them: a reply's one write
   * outside a transaction (its system prompt, say) kept every answer in a burst of 200 mentions
   * from starting until the last mention was recorded.
   */
  private readonly waiting = { statements: [] as Array<() => void>, transactions: [] as Array<() => void> };

  constructor(
    readonly db: Database,
    private readonly waitLimitMs: number,
  ) {}

  /** Every statement text prepared so far (the query-plan test reads them). */
  statementTexts(): string[] {
    return [...this.statements.keys()];
  }

  private free(): boolean {
    return !this.held && this.waiting.statements.length === 0 && this.waiting.transactions.length === 0;
  }

  /** Runs `work` holding the connection, in turn behind the transactions queued before it. */
  async holding<T>(work: () => Promise<T> | T): Promise<T> {
    const turn = this.take();
    if (turn !== undefined) await turn;
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Holds the connection for a transaction: at once when free (undefined: nothing to wait for), else once handed over in turn. */
  private take(): Promise<void> | undefined {
    if (this.free()) {
      this.held = true;
      return undefined;
    }
    return this.enqueue(this.waiting.transactions);
  }

  /** Ends a hold: the next waiter gets the connection (one wake-up, not one per waiter). */
  release(): void {
    const next = this.waiting.statements.shift() ?? this.waiting.transactions.shift();
    if (next === undefined) this.held = false;
    // On the next turn of the event loop, not in this microtask: network I/O waiting meanwhile
    // (a model request's connection, a response) is served between transactions. Handed over at
    // once, a burst's whole queue of SQLite transactions ran in one stretch of microtasks, and the
    // first mentions' requests left only once the last mention had been recorded.
    else setImmediate(next);
  }

  /** Runs one statement (`run` is synchronous): at once when free, else in turn behind a transaction. */
  async alone<T>(run: () => T): Promise<T> {
    if (this.free()) return run();
    await this.enqueue(this.waiting.statements);
    try {
      return run();
    } finally {
      this.release();
    }
  }

  /**
   * Waits to be handed the connection (held from then on), or rejects after `waitLimitMs` (10 s).
   * Transactions here last milliseconds (their bodies never wait on the network), so a wait that
   * long is a statement issued through the store from inside a transaction's own body, which
   * would otherwise wait for itself forever.
   */
  private enqueue(queue: Array<() => void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timedOut = false;
      const handOver = () => {
        // Given up between being picked and the hand-over's turn: the connection goes on to the next.
        if (timedOut) return this.release();
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        const index = queue.indexOf(handOver);
        if (index >= 0) queue.splice(index, 1);
        reject(new Error(`waited ${this.waitLimitMs} ms for a SQLite transaction to end: inside a transaction, use the store it hands its body`));
      }, this.waitLimitMs);
      timer.unref();
      queue.push(handOver);
    });
  }

  statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** A transaction's statements: they run at once, inside it. */
class TransactionExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;

  constructor(
    private readonly connection: Connection,
    private readonly depth: number,
  ) {}

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.connection.statement(sql).get(...params) as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.connection.statement(sql).all(...params) as T[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.connection.statement(sql).run(...params).changes;
  }

  async insert(sql: string, params: readonly SqlValue[] = []): Promise<number | undefined> {
    return insertedId(this.connection.statement(sql).run(...params));
  }

  async transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const savepoint = `nested_${this.depth + 1}`;
    this.connection.db.exec(`SAVEPOINT ${savepoint}`);
    try {
      const result = await work(new TransactionExecutor(this.connection, this.depth + 1));
      this.connection.db.exec(`RELEASE ${savepoint}`);
      return result;
    } catch (error) {
      this.connection.db.exec(`ROLLBACK TO ${savepoint}`);
      this.connection.db.exec(`RELEASE ${savepoint}`);
      throw error;
    }
  }

  commitWith<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    return work(this);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    throw new Error('close the store, not a transaction');
  }
}
