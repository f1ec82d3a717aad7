/** SettingsRepo on a temp-file database: newest row per key and scope, history, the write-through cache. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/index.js';
import type { Database } from 'better-sqlite3';

const alice = { id: 'U1', name: 'Alice' };
const values = (map: ReadonlyMap<string, { value: string | null }>) => Object.fromEntries([...map].map(([key, change]) => [key, change.value]));

describe('settings store', () => {
  let dir: string;
  let db: Database;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-settings-'));
    db = openDatabase(join(dir, 'threadline.db'));
    store = new Store(db);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the newest value per key and scope, and the history with the replaced values', () => {
    store.settings.record('discord', 'G1', '', 'model', 'claude-sonnet-4-6', alice, 1);
    store.settings.record('discord', 'G1', '', 'answers', 'off', alice, 2);
    store.settings.record('discord', 'G1', '', 'model', 'claude-haiku-4-5', alice, 3);
    store.settings.record('discord', 'G1', 'C1', 'answers', 'on', alice, 4);
    store.settings.record('discord', 'G1', '', 'answers', null, alice, 5);
    store.settings.record('slack', 'G1', '', 'model', 'claude-opus-4-8', alice, 6);
    const fresh = new Store(db);
    expect(values(fresh.settings.current('discord', 'G1', ''))).toEqual({ model: 'claude-haiku-4-5', answers: null });
    expect(values(fresh.settings.current('discord', 'G1', 'C1'))).toEqual({ answers: 'on' });
    expect(values(fresh.settings.current('discord', 'G2', ''))).toEqual({});
    expect(fresh.settings.history('discord', 'G1', '', 10).map((c) => [c.key, c.previous, c.value])).toEqual([
      ['answers', 'off', null],
      ['model', 'claude-sonnet-4-6', 'claude-haiku-4-5'],
      ['answers', null, 'off'],
      ['model', null, 'claude-sonnet-4-6'],
    ]);
  });

  it('reads a scope once: later reads need no query, and changes are written through', () => {
    expect(values(store.settings.current('slack', 'T1', 'C1'))).toEqual({});
    store.settings.record('slack', 'T1', 'C1', 'answers', 'off', alice, 1);
    expect(values(store.settings.current('slack', 'T1', 'C1'))).toEqual({ answers: 'off' });
    // Rows removed behind the store's back stay visible: the scope is served from memory.
    db.prepare('DELETE FROM settings').run();
    expect(values(store.settings.current('slack', 'T1', 'C1'))).toEqual({ answers: 'off' });
    // A rolled-back transaction forgets what was cached.
    expect(() =>
      store.transaction(() => {
        store.settings.record('slack', 'T1', 'C1', 'model', 'claude-haiku-4-5', alice, 2);
        throw new Error('rollback');
      }),
    ).toThrow('rollback');
    expect(values(store.settings.current('slack', 'T1', 'C1'))).toEqual({});
  });
});
