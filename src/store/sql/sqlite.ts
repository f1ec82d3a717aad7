import type { Database, Statement } from 'better-sqlite3';
import type { SqlExecutor, SqlValue } from './executor.js';

/**
 * better-sqlite3 behind the asynchronous executor. Every statement still runs synchronously
 * (a resolved promise comes back), so the cost over the plain driver is one microtask.
 *
 * One connection serves the whole process, so a transaction must keep everyone else out while
 * its body awaits: statements from outside wait until it ends (they run at once otherwise), and
 * transactions queue behind each other. A transaction's own statements go through the
 * executor its body receives; using the outer one inside a transaction would wait for itself.
 */
export class SqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  private readonly connection: Connection;

  constructor(db: Database, options: { readonly waitLimitMs?: number } = {}) {
    this.connection = new Connection(db, options.waitLimitMs ?? 10_000);
  }

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    while (this.connection.busy !== undefined) await this.connection.untilFree();
    return this.connection.statement(sql).get(...params) as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    while (this.connection.busy !== undefined) await this.connection.untilFree();
    return this.connection.statement(sql).all(...params) as T[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    while (this.connection.busy !== undefined) await this.connection.untilFree();
    return this.connection.statement(sql).run(...params).changes;
  }

  async transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const connection = this.connection;
    // Checked and taken in one synchronous step: a waiter woken with others takes it or waits again.
    while (connection.busy !== undefined) await connection.untilFree();
    let done!: () => void;
    connection.busy = new Promise<void>((resolve) => (done = resolve));
    try {
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
    } finally {
      connection.busy = undefined;
      done();
    }
  }

  commitWith<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    return work(this);
  }

  async ping(): Promise<boolean> {
    try {
      while (this.connection.busy !== undefined) await this.connection.untilFree();
      this.connection.statement('SELECT 1').get();
      return this.connection.db.open;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    while (this.connection.busy !== undefined) await this.connection.untilFree();
    if (this.connection.db.open) this.connection.db.close();
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

class Connection {
  private readonly statements = new Map<string, Statement>();
  /**
   * Set while a transaction holds the connection; resolves when it ends. Callers wait with
   * `while (busy !== undefined) await busy` and then act in the same synchronous step, so no
   * statement slips into a transaction that began while they were waking up.
   */
  busy: Promise<void> | undefined;

  constructor(
    readonly db: Database,
    private readonly waitLimitMs: number,
  ) {}

  /** Every statement text prepared so far (the query-plan test reads them). */
  statementTexts(): string[] {
    return [...this.statements.keys()];
  }

  /**
   * `busy`, or a rejection after `waitLimitMs` (10 s). Transactions here last milliseconds (their
   * bodies never wait on the network), so a wait that long is a statement issued through the
   * store from inside a transaction's own body, which would otherwise wait for itself forever.
   */
  untilFree(): Promise<void> {
    const busy = this.busy ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`waited ${this.waitLimitMs} ms for a SQLite transaction to end: inside a transaction, use the store it hands its body`)),
        this.waitLimitMs,
      );
      timer.unref();
    });
    return Promise.race([busy, limit]).finally(() => clearTimeout(timer));
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
