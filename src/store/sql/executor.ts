/**
 * What the repositories need from a database: three ways to run one statement and a
 * transaction. SQL is written once, with `?` placeholders and the subset both SQLite and
 * PostgreSQL understand (`ON CONFLICT … DO NOTHING`, `RETURNING`); each backend runs it.
 */
export type SqlValue = string | number | null;

export interface PreludeStatement {
  readonly sql: string;
  readonly params: readonly SqlValue[];
  sent(result: Promise<unknown>): void;
}

export interface SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** The first row, or undefined. */
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs an INSERT of one row into a table with an `id` key, written without RETURNING: the new
   * row's id, or undefined when it inserted nothing (`ON CONFLICT … DO NOTHING`). SQLite reads
   * the rowid the driver reports, since RETURNING makes it gather the row in a temporary b-tree
   * first (tens of µs on a reply's path); PostgreSQL appends `RETURNING id`.
   */
  insert(sql: string, params?: readonly SqlValue[]): Promise<number | undefined>;
  /**
   * Runs `work` atomically on one connection: every statement of the transaction goes through
   * the executor `work` receives, never through this one. Nested calls become savepoints.
   */
  transaction<T>(work: (sql: SqlExecutor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Inside a transaction: `work` sends the transaction's last statements, all before it waits
   * for any result, and the body returns right after it, sending nothing more. PostgreSQL sends
   * COMMIT right behind them (one round trip less; a later statement is refused, as with
   * `commitWithStatements`, which is this for a whole body). Anywhere else, and on SQLite, it
   * just runs `work`.
   */
  commitWith<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T>;
  /** True while the database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface TransactionOptions {
  /**
   * A statement the transaction's connection sends just ahead of BEGIN, in the same write, so it
   * commits on its own first: the replicas' cache barrier (read-ahead.ts). `sent` gets its result,
   * which the transaction does not wait for. SQLite, with no replicas, is never given one.
   */
  readonly before?: PreludeStatement;
  /**
   * The body sends every statement it will send before it waits for any result (independent
   * writes started together, each one statement). PostgreSQL then sends COMMIT right behind
   * them, so the whole transaction costs one round trip; a statement the body sends later fails
   * instead of running outside the transaction (the ones before it are committed: keep to the
   * promise). A failed statement rolls everything back, as always. SQLite, with no round trips,
   * ignores it.
   */
  readonly commitWithStatements?: boolean;
  /**
   * PostgreSQL: the transaction resolves with its body's result as soon as COMMIT is on the wire,
   * and `committing` gets COMMIT's outcome (rejected when nothing was committed). Until it settles,
   * a statement run outside a transaction waits for it, so this process reads what it just wrote.
   * The caller must await `committing` before it relies on the writes anywhere else (another
   * process, a platform). Not called when the transaction resolves committed: on SQLite, or when
   * COMMIT went out with the body's statements (commitWith).
   */
  readonly commitLater?: (committing: Promise<void>) => void;
}
