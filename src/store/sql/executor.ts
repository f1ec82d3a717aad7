/**
 * What the repositories need from a database: three ways to run one statement and a
 * transaction. SQL is written once, with `?` placeholders and the subset both SQLite and
 * PostgreSQL understand (`ON CONFLICT … DO NOTHING`, `RETURNING`); each backend runs it.
 */
export type SqlValue = string | number | null;

export interface SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** The first row, or undefined. */
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs `work` atomically on one connection: every statement of the transaction goes through
   * the executor `work` receives, never through this one. Nested calls become savepoints.
   */
  transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T>;
  /** True while the database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
