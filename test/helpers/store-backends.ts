/**
 * The store suite runs once per backend: `forEachBackend((backend) => { … })` declares its
 * tests in a describe block per backend, each test getting a fresh, empty database
 * (`backend.location()`): a temp-file SQLite database, or PostgreSQL's throwaway database for the
 * file, emptied before each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { Store, type StoreLocation } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from './postgres.js';

export type BackendName = 'sqlite' | 'postgres';

export interface TestBackend {
  readonly name: BackendName;
  /** The current test's database: the same location until the test ends. */
  location(): Promise<StoreLocation>;
  /** Opens (and migrates) the current test's database; closed when the test ends. */
  open(): Promise<Store>;
}

export function forEachBackend(suite: (backend: TestBackend) => void): void {
  describe('on SQLite', () => suite(sqliteBackend()));
  if (TEST_DATABASE_URL === undefined) describe.skip(`on PostgreSQL (${POSTGRES_SKIP_REASON})`, () => suite(postgresBackend()));
  else describe('on PostgreSQL', () => suite(postgresBackend()));
}

function withOpenStores(location: () => Promise<StoreLocation>, name: BackendName): TestBackend & { closeAll(): Promise<void> } {
  const stores: Store[] = [];
  return {
    name,
    location,
    async open() {
      const store = await Store.open(await location());
      stores.push(store);
      return store;
    },
    async closeAll() {
      await Promise.all(stores.splice(0).map((store) => store.close().catch(() => undefined)));
    },
  };
}

function sqliteBackend(): TestBackend {
  let dir: string | undefined;
  const backend = withOpenStores(async () => {
    dir ??= mkdtempSync(join(tmpdir(), 'threadline-store-'));
    return { databasePath: join(dir, 'nested', 'threadline.db') };
  }, 'sqlite');
  afterEach(async () => {
    await backend.closeAll();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return backend;
}

function postgresBackend(): TestBackend {
  let database: TestDatabase | undefined;
  let dirty = false;
  let resetting: Promise<void> | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  const backend = withOpenStores(async () => {
    if (database === undefined) throw new Error('the test database was not created');
    // Stores opened at once (replicas) share one reset: two would drop each other's schema.
    if (dirty) {
      resetting ??= database.reset().then(() => {
        dirty = false;
        resetting = undefined;
      });
    }
    await resetting;
    return { databasePath: '', databaseUrl: database.url };
  }, 'postgres');
  afterEach(async () => {
    await backend.closeAll();
    dirty = true;
  });
  return backend;
}
