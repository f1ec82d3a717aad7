import { mkdtempSync, rmSync, writeFileSync, readdirSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isThreadlineError } from '../../src/errors.js';
import { MIGRATIONS_DIR, openDatabase } from '../../src/store/database.js';
import type { Database } from 'better-sqlite3';
import { Store } from '../../src/store/index.js';
import { readMigrations } from '../../src/store/migrate.js';

const THREAD = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' } as const;

describe('store on a temp-file database', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-store-'));
    path = join(dir, 'nested', 'threadline.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates from zero to the latest version, creating the directory', () => {
    const db = openDatabase(path);
    const latest = readMigrations(MIGRATIONS_DIR).length;
    expect(db.pragma('user_version', { simple: true })).toBe(latest);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => (row as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['conversations', 'messages', 'attachments', 'instructions', 'processed_events', 'reply_jobs', 'usage', 'settings']));
    db.close();
  });

  it('refuses a database written by a newer version, naming both versions', () => {
    const db = openDatabase(path);
    db.pragma('user_version = 999');
    db.close();
    let caught: unknown;
    try {
      openDatabase(path);
    } catch (error) {
      caught = error;
    }
    expect(isThreadlineError(caught, 'db_newer_version')).toBe(true);
    expect(String((caught as Error).message)).toMatch(/schema version 999.*only knows up to/);
  });

  it('applies only missing migrations, each in a transaction (a failing one leaves the version)', () => {
    const migrations = join(dir, 'migrations');
    mkdirSync(migrations);
    for (const file of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, file), join(migrations, file));
    const latest = readMigrations(MIGRATIONS_DIR).length;
    openDatabase(path, migrations).close();
    const next = String(latest + 1).padStart(4, '0');
    writeFileSync(join(migrations, `${next}_broken.sql`), 'CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;');
    expect(() => openDatabase(path, migrations)).toThrow(/broken failed/);
    const raw = new BetterSqlite3(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(latest);
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'").get()).toEqual({ n: 0 });
    raw.close();
  });

  it('rejects gaps in migration numbering', () => {
    const migrations = join(dir, 'gappy');
    mkdirSync(migrations);
    writeFileSync(join(migrations, '0001_a.sql'), 'SELECT 1;');
    writeFileSync(join(migrations, '0003_c.sql'), 'SELECT 1;');
    expect(() => readMigrations(migrations)).toThrow(/without gaps/);
  });

  it('keeps data across reopen and dedupes messages per conversation', () => {
    const store = Store.open(path);
    const conversation = store.conversations.findOrCreate(THREAD, 1000);
    const first = store.messages.insert({
      conversationId: conversation.id, platformMessageId: '1.0', authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: 'hi', createdAt: 1000,
      attachments: [{ platformFileId: 'F1', name: 'a.png', kind: 'image', mediaType: 'image/png', size: 10, width: 1, height: 1, url: 'https://files/a.png', urlExpiresAt: null }],
    });
    expect(first).toBeTypeOf('number');
    expect(store.messages.insert({ conversationId: conversation.id, platformMessageId: '1.0', authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: 'dup', createdAt: 1000 })).toBeUndefined();
    expect(store.events.claim('slack-event:Ev1', 1)).toBe(true);
    expect(store.events.claim('slack-event:Ev1', 2)).toBe(false);
    store.instructions.record('slack', 'T1', '', 'Be brief', { id: 'U1', name: 'Ann' }, 5);
    store.close();

    const reopened = Store.open(path);
    const again = reopened.conversations.find(THREAD);
    expect(again?.id).toBe(conversation.id);
    const thread = reopened.messages.thread(conversation.id);
    expect(thread.map((m) => m.text)).toEqual(['hi']);
    expect(thread[0]?.attachments.map((a) => a.name)).toEqual(['a.png']);
    expect(reopened.events.claim('slack-event:Ev1', 3)).toBe(false);
    expect(reopened.instructions.current('slack', 'T1', '')?.text).toBe('Be brief');
    reopened.close();
  });

  it('erases deleted content, including the other parts of a split reply', () => {
    const store = Store.open(path);
    const conversation = store.conversations.findOrCreate(THREAD, 1);
    const base = { conversationId: conversation.id, authorId: 'B', authorName: 'bot', authorKind: 'self', role: 'assistant', createdAt: 2 } as const;
    const head = store.messages.insert({ ...base, platformMessageId: 'p1', text: 'long answer' }) as number;
    store.messages.insert({ ...base, platformMessageId: 'p2', text: '', replyPartOf: head });
    store.messages.softDelete(head, 3);
    expect(store.messages.thread(conversation.id)).toEqual([]);
    expect(store.messages.get(head)?.text).toBe('');
    store.close();
  });

  it('reports a clear error for a path it cannot open', () => {
    writeFileSync(join(dir, 'file'), 'x');
    let caught: unknown;
    try {
      Store.open(join(dir, 'file', 'db.sqlite'));
    } catch (error) {
      caught = error;
    }
    expect(isThreadlineError(caught, 'db_open_failed')).toBe(true);
    expect(String((caught as Error).message)).toMatch(/cannot open database/);
  });
});

describe('message cache', () => {
  it('always agrees with a fresh read of the database, whatever the order of changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-cache-'));
    const path = join(dir, 'db.sqlite');
    const store = Store.open(path);
    try {
      const { MessageRepo } = await import('../../src/store/messages.js');
      const conversation = store.conversations.findOrCreate(THREAD, 0);
      let seed = 7;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const ids: number[] = [];
      store.messages.thread(conversation.id); // warm the cache before the changes
      for (let step = 0; step < 300; step += 1) {
        const roll = random();
        if (roll < 0.6 || ids.length === 0) {
          const id = store.messages.insert({
            conversationId: conversation.id, platformMessageId: `m${step}`, authorId: 'u', authorName: 'U', authorKind: 'user', role: random() < 0.5 ? 'user' : 'assistant',
            text: `t${step}`, createdAt: Math.floor(random() * 1000),
            attachments: random() < 0.2 ? [{ platformFileId: `f${step}`, name: 'a.png', kind: 'image', mediaType: 'image/png', size: 1, width: 1, height: 1, url: 'u', urlExpiresAt: null }] : [],
          });
          if (id !== undefined) ids.push(id);
        } else if (roll < 0.75) {
          store.messages.edit(ids[Math.floor(random() * ids.length)] as number, `edited ${step}`, step);
        } else if (roll < 0.85) {
          store.messages.softDelete(ids[Math.floor(random() * ids.length)] as number, step);
        } else if (roll < 0.9) {
          const attachment = store.messages.thread(conversation.id).flatMap((m) => m.attachments)[0];
          if (attachment !== undefined) store.messages.setAnthropicFileId(attachment.id, `file_${step}`);
        } else {
          expect(() => store.transaction(() => {
            store.messages.insert({ conversationId: conversation.id, platformMessageId: `rollback${step}`, authorId: 'u', authorName: 'U', authorKind: 'user', role: 'user', text: 'x', createdAt: 5 });
            throw new Error('roll back');
          })).toThrow('roll back');
        }
        {
          const fresh = new MessageRepo((store as unknown as { db: import('better-sqlite3').Database }).db);
          const thread = fresh.thread(conversation.id);
          expect(store.messages.thread(conversation.id)).toEqual(thread);
          const probe = ids[Math.floor(random() * ids.length)] as number;
          expect(store.messages.live(conversation.id, probe)).toEqual(thread.find((message) => message.id === probe));
          expect(store.messages.live(conversation.id + 1, probe)).toBeUndefined();
        }
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('conversation and instruction caches', () => {
  it('always agree with a fresh read of the database, whatever the order of changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-cache-'));
    const store = Store.open(join(dir, 'db.sqlite'));
    try {
      const { ConversationRepo } = await import('../../src/store/conversations.js');
      const { InstructionRepo } = await import('../../src/store/instructions.js');
      const db = (store as unknown as { db: import('better-sqlite3').Database }).db;
      const threads = Array.from({ length: 6 }, (_, i) => ({ ...THREAD, channelId: `C${i % 2}`, threadKey: `C${i % 2}:${i}.0` }));
      const scopes = ['', 'C0', 'C1'];
      let seed = 11;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
      const existing = () => threads.flatMap((thread) => store.conversations.find(thread) ?? []);
      const author = { id: 'admin', name: 'Admin' };
      for (let step = 0; step < 400; step += 1) {
        const roll = random();
        const some = pick(existing().concat([undefined as never]));
        if (roll < 0.2) store.conversations.findOrCreate(pick(threads), step);
        else if (roll < 0.35 && some) store.conversations.touch(some.id, Math.floor(random() * 600_000));
        else if (roll < 0.45 && some) store.conversations.setSystemPrompt(some.id, random() < 0.2 ? null : `prompt ${step}`, step);
        else if (roll < 0.5 && some) store.conversations.markBackfilled(some.id);
        else if (roll < 0.55 && some) store.forgetConversation(some.id);
        else if (roll < 0.65) store.prune(Math.floor(random() * 1000), 0);
        else if (roll < 0.8) store.instructions.record('slack', THREAD.workspaceId, pick(scopes), random() < 0.3 ? null : `rule ${step}`, author, step);
        else {
          expect(() =>
            store.transaction(() => {
              const created = store.conversations.findOrCreate(pick(threads), step);
              store.conversations.setSystemPrompt(created.id, `doomed ${step}`, step);
              store.conversations.touch(created.id, 10_000_000);
              store.instructions.record('slack', THREAD.workspaceId, pick(scopes), `doomed ${step}`, author, step);
              throw new Error('roll back');
            }),
          ).toThrow('roll back');
        }
        const conversations = new ConversationRepo(db);
        const instructions = new InstructionRepo(db);
        for (const thread of threads) {
          const fresh = conversations.find(thread);
          expect(store.conversations.find(thread)).toEqual(fresh);
          if (fresh !== undefined) expect(store.conversations.get(fresh.id)).toEqual(fresh);
        }
        for (const scope of scopes) expect(store.instructions.current('slack', THREAD.workspaceId, scope)).toEqual(instructions.current('slack', THREAD.workspaceId, scope));
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('conversation activity', () => {
  it('is recorded to the minute: later activity within a minute writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-activity-'));
    const store = Store.open(join(dir, 'db.sqlite'));
    try {
      const db = (store as unknown as { db: import('better-sqlite3').Database }).db;
      const stored = (id: number) => (db.prepare('SELECT last_activity_at AS at FROM conversations WHERE id = ?').get(id) as { at: number }).at;
      const { id } = store.conversations.findOrCreate(THREAD, 1_000_000);
      const cases: Array<[touchAt: number, expected: number]> = [
        [1_000_000 + 59_999, 1_000_000],
        [1_000_000 + 60_000, 1_060_000],
        [1_000_000, 1_060_000], // never backwards
        [5_000_000, 5_000_000],
      ];
      for (const [at, expected] of cases) {
        store.conversations.touch(id, at);
        expect(stored(id)).toBe(expected);
        expect(store.conversations.get(id)?.lastActivityAt).toBe(expected);
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('query plans', () => {
  /** Full scans that are fine: they run at startup or in the daily retention pass, not per message. */
  const allowedScans: Array<[table: string, sql: RegExp, why: string]> = [
    ['reply_jobs', /FROM reply_jobs WHERE state IN/, 'unfinished jobs, once at startup'],
    ['messages', /DELETE FROM messages WHERE created_at/, 'retention'],
    ['usage', /DELETE FROM usage WHERE created_at/, 'retention'],
    ['conversations', /DELETE FROM conversations WHERE last_activity_at/, 'retention'],
    ['assistant_threads', /DELETE FROM assistant_threads WHERE updated_at/, 'retention'],
    // Deleting one of the few conversations retention removes checks the tables that point at it.
    ['usage', /DELETE FROM conversations WHERE last_activity_at/, 'retention'],
    ['reply_jobs', /DELETE FROM conversations WHERE last_activity_at/, 'retention'],
    // Planned for foreign-key bookkeeping that SQLite runs only when deferred violations are
    // pending, which never happens here (an insert takes as long with 300k usage rows as with none).
    ['usage', /^INSERT INTO conversations/, 'never runs'],
    ['reply_jobs', /^INSERT INTO conversations/, 'never runs'],
  ];

  it('every statement the store prepares finds its rows through an index, but for the listed startup and retention scans', () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-plans-'));
    const db: Database = openDatabase(join(dir, 'db.sqlite'));
    try {
      const sources: string[] = [];
      const prepare = db.prepare.bind(db);
      db.prepare = ((source: string) => {
        sources.push(source);
        return prepare(source);
      }) as Database['prepare'];
      new Store(db);
      db.prepare = prepare;
      expect(sources.length).toBeGreaterThan(30);
      const scans: string[] = [];
      for (const source of sources) {
        const named = [...new Set([...source.matchAll(/@(\w+)/g)].map((match) => match[1] as string))];
        const args = named.length > 0 ? [Object.fromEntries(named.map((name) => [name, null]))] : Array.from(source.matchAll(/\?/g), () => null);
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...args) as Array<{ detail: string }>;
        for (const { detail } of plan) {
          const table = /^SCAN (\w+)(?! USING (?:COVERING )?INDEX)/.exec(detail)?.[1];
          if (table === undefined || detail.startsWith('SCAN CONSTANT ROW')) continue;
          if (allowedScans.some(([allowed, sql]) => allowed === table && sql.test(source))) continue;
          scans.push(`${detail} in: ${source.replace(/\s+/g, ' ')}`);
        }
      }
      expect(scans).toEqual([]);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
