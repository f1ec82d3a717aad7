import pg from 'pg';
import type { SqlExecutor, SqlValue } from './executor.js';

/**
 * node-postgres behind the executor. `?` placeholders become `$1, $2, …` once per statement
 * text, and each text is a named prepared statement, parsed once per pooled connection.
 * BIGINT (ids, times in ms) and NUMERIC (sums) come back as numbers: every value the store
 * keeps is far below 2^53.
 */
export class PostgresExecutor implements SqlExecutor {
  readonly dialect = 'postgres' as const;

  constructor(
    readonly pool: pg.Pool,
    private readonly statements: Statements = new Statements(),
  ) {}

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.pool.query(this.statements.config(sql, params))).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.pool.query(this.statements.config(sql, params))).rows as T[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.pool.query(this.statements.config(sql, params))).rowCount ?? 0;
  }

  async transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const result = await work(new ClientExecutor(client, this.statements, 0));
        await client.query('COMMIT');
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
      client.release(broken);
    }
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
  ) {}

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.client.query(this.statements.config(sql, params))).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.client.query(this.statements.config(sql, params))).rows as T[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.client.query(this.statements.config(sql, params))).rowCount ?? 0;
  }

  async transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const savepoint = `nested_${this.depth + 1}`;
    await this.client.query(`SAVEPOINT ${savepoint}`);
    try {
      const result = await work(new ClientExecutor(this.client, this.statements, this.depth + 1));
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

const INT8 = 20;
const NUMERIC = 1700;

/**
 * A pool whose BIGINT and NUMERIC columns read as numbers (see PostgresExecutor). With
 * `replicaId`, its sessions carry it as `threadline.replica`, which the cache triggers put in
 * their notifications (so a replica tells its own writes from others': replica-caches.ts).
 */
export function createPool(connectionString: string, max = 10, replicaId?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    ...(replicaId === undefined ? {} : { options: `-c threadline.replica=${replicaId}` }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8 || oid === NUMERIC ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
    },
  });
  // An idle connection the server dropped is discarded by the pool; without a listener the
  // event would end the process. The next query reconnects, and health checks see outages.
  pool.on('error', () => undefined);
  return pool;
}
