/**
 * Real PostgreSQL for tests: `TEST_DATABASE_URL` names a server (`.ci/run` starts one on
 * loopback) where each test file creates its own throwaway database and drops it at the end.
 * Locally, without the variable, PostgreSQL variants are skipped with that reason; under CI a
 * missing server is an error, never a silent skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL === '' ? undefined : process.env.TEST_DATABASE_URL;

if (TEST_DATABASE_URL === undefined && process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
  throw new Error('TEST_DATABASE_URL is unset under CI: .ci/run must start PostgreSQL for the PostgreSQL store tests');
}

export const POSTGRES_SKIP_REASON = 'PostgreSQL tests skipped: TEST_DATABASE_URL is unset (set it to a server where databases may be created, e.g. postgres://postgres@127.0.0.1:5432/postgres)';

export interface TestDatabase {
  readonly url: string;
  /** Empties the database (a new public schema), so the next store migrates from zero. */
  reset(): Promise<void>;
  drop(): Promise<void>;
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database on the TEST_DATABASE_URL server (or another). */
export async function createTestDatabase(server = TEST_DATABASE_URL): Promise<TestDatabase> {
  if (server === undefined) throw new Error(POSTGRES_SKIP_REASON);
  const name = `threadline_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(server, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    reset: () => withAdmin(url.toString(), (client) => client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public').then(() => undefined)),
    drop: () => withAdmin(server, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined)),
  };
}
