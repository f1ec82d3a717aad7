/**
 * The store's behaviour, the same on both backends: migrations, dedupe, deletes, the caches
 * against fresh reads, transactions and their ordering, and the values each repository returns.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isThreadlineError } from '../../src/errors.js';
import { MIGRATIONS_DIR } from '../../src/store/database.js';
import { readMigrations } from '../../src/store/migrate.js';
import { migratePostgres } from '../../src/store/migrate-postgres.js';
import type { SqlExecutor } from '../../src/store/sql/executor.js';
import { createPool } from '../../src/store/sql/postgres-pool.js';
import { POSTGRES_MIGRATIONS_DIR, Store, redactedUrl } from '../../src/store/store.js';
import { forEachBackend, type TestBackend } from '../helpers/store-backends.js';

const THREAD = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' } as const;
const ann = { id: 'U1', name: 'Ann' };

const userMessage = (conversationId: number, platformMessageId: string, extra: Partial<Parameters<Store['messages']['insert']>[0]> = {}) => ({
  conversationId,
  platformMessageId,
  authorId: 'U1',
  authorName: 'Ann',
  authorKind: 'user',
  role: 'user',
  text: `text of ${platformMessageId}`,
  createdAt: 1000,
  ...extra,
}) as const;

async function schemaVersion(backend: TestBackend, sql: SqlExecutor): Promise<number> {
  if (backend.name === 'sqlite') return (await sql.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? -1;
  return (await sql.get<{ version: number }>('SELECT max(version) AS version FROM schema_migrations'))?.version ?? -1;
}

const migrationsOf = (backend: TestBackend) => readMigrations(backend.name === 'sqlite' ? MIGRATIONS_DIR : POSTGRES_MIGRATIONS_DIR);

forEachBackend((backend) => {
  describe('migrations', () => {
    it('migrate from zero to the latest version and record it', async () => {
      const store = await backend.open();
      expect(await schemaVersion(backend, store.executor)).toBe(migrationsOf(backend).length);
      for (const table of ['conversations', 'messages', 'attachments', 'instructions', 'processed_events', 'reply_jobs', 'usage', 'settings', 'answer_feedback', 'assistant_threads']) {
        expect(await store.executor.all(`SELECT * FROM ${table}`)).toEqual([]);
      }
      // Opening again applies nothing and keeps the version.
      const again = await backend.open();
      expect(await schemaVersion(backend, again.executor)).toBe(migrationsOf(backend).length);
    });

    it('refuse a database written by a newer version, naming both versions', async () => {
      const store = await backend.open();
      if (backend.name === 'sqlite') await store.executor.run('PRAGMA user_version = 999');
      else await store.executor.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
      await store.close();
      const opened = backend.open();
      await expect(opened).rejects.toSatisfy((error: unknown) => isThreadlineError(error, 'db_newer_version'));
      await expect(opened).rejects.toThrow(/schema version 999.*only knows up to/);
    });

    it('apply each step in a transaction: a failing step leaves neither its tables nor a new version', async () => {
      const latest = migrationsOf(backend).length;
      const broken = { version: latest + 1, name: 'broken', sql: 'CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;' };
      const store = await backend.open();
      if (backend.name === 'sqlite') {
        const { openDatabase } = await import('../../src/store/database.js');
        const dir = mkdtempSync(join(tmpdir(), 'threadline-migrations-'));
        try {
          for (const file of readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql'))) copyFileSync(join(MIGRATIONS_DIR, file), join(dir, file));
          writeFileSync(join(dir, `${String(broken.version).padStart(4, '0')}_broken.sql`), broken.sql);
          const { databasePath } = await backend.location();
          await store.close();
          expect(() => openDatabase(databasePath, dir)).toThrow(/broken failed/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const reopened = await backend.open();
        expect(await schemaVersion(backend, reopened.executor)).toBe(latest);
        expect(await reopened.executor.get("SELECT name FROM sqlite_master WHERE name = 'half_done'")).toBeUndefined();
      } else {
        const { databaseUrl } = await backend.location();
        const pool = createPool(databaseUrl as string);
        try {
          await expect(migratePostgres(pool, [...migrationsOf(backend), broken], 'test')).rejects.toThrow(/broken failed/);
          expect(await schemaVersion(backend, store.executor)).toBe(latest);
          expect(await store.executor.get("SELECT 1 AS found FROM information_schema.tables WHERE table_name = 'half_done'")).toBeUndefined();
        } finally {
          await pool.end();
        }
      }
    });
  });

  it('keeps data across reopen and dedupes messages per conversation and delivery keys', async () => {
    const store = await backend.open();
    const conversation = await store.conversations.findOrCreate(THREAD, 1000);
    expect(conversation).toMatchObject({ id: expect.any(Number), platform: 'slack', backfilled: false, instructionsRev: 0, createdAt: 1000 });
    const first = await store.messages.insert({
      ...userMessage(conversation.id, '1.0', { text: 'hi' }),
      attachments: [{ platformFileId: 'F1', name: 'a.png', kind: 'image', mediaType: 'image/png', size: 10, width: 1, height: 1, url: 'https://files/a.png', urlExpiresAt: null }],
    });
    expect(first).toBeTypeOf('number');
    expect(await store.messages.insert(userMessage(conversation.id, '1.0', { text: 'dup' }))).toBeUndefined();
    expect(await store.events.claim('slack-event:Ev1', 1)).toBe(true);
    expect(await store.events.claim('slack-event:Ev1', 2)).toBe(false);
    await store.instructions.record('slack', 'T1', '', 'Be brief', ann, 5);
    await store.close();

    const reopened = await backend.open();
    expect((await reopened.conversations.find(THREAD))?.id).toBe(conversation.id);
    const thread = await reopened.messages.thread(conversation.id);
    expect(thread.map((m) => m.text)).toEqual(['hi']);
    expect(thread[0]?.attachments.map((a) => [a.name, a.size, a.position, typeof a.id])).toEqual([['a.png', 10, 0, 'number']]);
    expect(await reopened.events.claim('slack-event:Ev1', 3)).toBe(false);
    // A released key is gone once: the first release wins, and the key may be claimed again.
    expect(await reopened.events.release('slack-event:Ev1')).toBe(true);
    expect(await reopened.events.release('slack-event:Ev1')).toBe(false);
    expect(await reopened.events.claim('slack-event:Ev1', 4)).toBe(true);
    expect((await reopened.instructions.current('slack', 'T1', ''))?.text).toBe('Be brief');
  });

  it('erases deleted content, including the other parts of a split reply', async () => {
    const store = await backend.open();
    const conversation = await store.conversations.findOrCreate(THREAD, 1);
    const base = { conversationId: conversation.id, authorId: 'B', authorName: 'bot', authorKind: 'self', role: 'assistant', createdAt: 2 } as const;
    const head = (await store.messages.insert({ ...base, platformMessageId: 'p1', text: 'long answer' })) as number;
    await store.messages.insert({ ...base, platformMessageId: 'p2', text: 'more', replyPartOf: head });
    await store.messages.softDelete(head, 3);
    expect(await store.messages.thread(conversation.id)).toEqual([]);
    expect((await store.messages.get(head))?.text).toBe('');
    expect((await store.messages.find(conversation.id, 'p2'))?.deletedAt).toBe(3);
  });

  it('creates a conversation once when two callers race for it', async () => {
    const first = await backend.open();
    const second = await backend.open();
    const [a, b] = await Promise.all([first.conversations.findOrCreate(THREAD, 1), second.conversations.findOrCreate(THREAD, 2)]);
    expect(a.id).toBe(b.id);
  });

  describe('transactions', () => {
    it('commit together, or roll back the rows and what the caches learned inside', async () => {
      const store = await backend.open();
      const conversation = await store.conversations.findOrCreate(THREAD, 1);
      await store.messages.thread(conversation.id); // cached, so the rolled-back insert lands in the cache too
      await expect(
        store.transaction(async (tx) => {
          await tx.messages.insert(userMessage(conversation.id, 'doomed'));
          await tx.instructions.record('slack', 'T1', '', 'doomed', ann, 2);
          await tx.settings.record('slack', 'T1', '', 'model', 'doomed', ann, 2);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await store.messages.thread(conversation.id)).toEqual([]);
      expect(await store.instructions.current('slack', 'T1', '')).toBeUndefined();
      expect((await store.settings.current('slack', 'T1', '')).size).toBe(0);

      const id = await store.transaction(async (tx) => {
        const inserted = await tx.messages.insert(userMessage(conversation.id, 'kept'));
        await tx.jobs.create(inserted as number, conversation.id, 5);
        return inserted;
      });
      expect((await store.messages.thread(conversation.id)).map((m) => m.id)).toEqual([id]);
      expect((await Store.over(store.executor).jobs.forMessage(id as number))?.state).toBe('pending');
    });

    it('nest as savepoints: an inner failure the outer catches undoes only the inner part', async () => {
      const store = await backend.open();
      const conversation = await store.conversations.findOrCreate(THREAD, 1);
      await store.transaction(async (tx) => {
        await tx.messages.insert(userMessage(conversation.id, 'outer'));
        await expect(
          tx.transaction(async (inner) => {
            await inner.messages.insert(userMessage(conversation.id, 'inner'));
            throw new Error('inner fails');
          }),
        ).rejects.toThrow('inner fails');
      });
      const fresh = Store.over(store.executor);
      expect((await fresh.messages.thread(conversation.id)).map((m) => m.platformMessageId)).toEqual(['outer']);
    });

    it('keep statements from outside out of an open transaction: they land whatever it does', async () => {
      const store = await backend.open();
      const conversation = await store.conversations.findOrCreate(THREAD, 1);
      let outside: Promise<number | undefined> | undefined;
      await expect(
        store.transaction(async (tx) => {
          await tx.messages.insert(userMessage(conversation.id, 'inside'));
          // Another reply writes while this transaction is open, then the transaction fails.
          outside = store.messages.insert(userMessage(conversation.id, 'outside'));
          await tx.events.claim('some-key', 1);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await outside).toBeTypeOf('number');
      const fresh = Store.over(store.executor);
      expect((await fresh.messages.thread(conversation.id)).map((m) => m.platformMessageId)).toEqual(['outside']);
    });

    it('let exactly one of many concurrent claims of a delivery key win', async () => {
      // PostgreSQL: two stores, as two replicas would be. SQLite has one store per process (two
      // connections to one file would block each other's open transactions).
      const first = await backend.open();
      const stores = backend.name === 'postgres' ? [first, await backend.open()] : [first, first];
      const claims = Array.from({ length: 20 }, (_, i) => (stores[i % 2] as Store).transaction((tx) => tx.events.claim('slack-event:EvRace', i)));
      expect((await Promise.all(claims)).filter(Boolean)).toHaveLength(1);
    });
  });

  it('keeps reply jobs: one per message, open ones oldest first, finished ones closed', async () => {
    const store = await backend.open();
    const conversation = await store.conversations.findOrCreate(THREAD, 1);
    const m1 = (await store.messages.insert(userMessage(conversation.id, 'm1'))) as number;
    const m2 = (await store.messages.insert(userMessage(conversation.id, 'm2'))) as number;
    const j2 = await store.jobs.create(m2, conversation.id, 5);
    const j1 = await store.jobs.create(m1, conversation.id, 3);
    expect(await store.jobs.create(m1, conversation.id, 9)).toBeUndefined();
    await store.jobs.resumed(j1 as number, 10);
    expect((await store.jobs.open()).map((job) => [job.id, job.attempts, job.state])).toEqual([
      [j1, 1, 'pending'],
      [j2, 0, 'pending'],
    ]);
    await store.jobs.finish(j1 as number, 'done', 11);
    await store.jobs.finish(j2 as number, 'dropped', 11);
    expect(await store.jobs.open()).toEqual([]);
    expect((await store.jobs.forMessage(m2))?.state).toBe('dropped');
    // A finished job gives way to a new one for its message (a regeneration); an open one stays.
    await store.jobs.removeFinished(m1);
    const again = await store.jobs.create(m1, conversation.id, 12);
    expect(again).toBeDefined();
    await store.jobs.removeFinished(m1);
    expect(await store.jobs.create(m1, conversation.id, 13)).toBeUndefined();
    expect((await store.jobs.open()).map((job) => job.id)).toEqual([again]);
    // Created with a lease, a job is that replica's until it runs out; without one, nobody's.
    const m3 = (await store.messages.insert(userMessage(conversation.id, 'm3'))) as number;
    const leased = (await store.jobs.create(m3, conversation.id, 14, { owner: 'replica-1', expiresAt: 99 })) as number;
    expect(await store.jobs.leaseOf(leased)).toEqual({ owner: 'replica-1', expiresAt: 99 });
    expect(await store.jobs.leaseOf(again as number)).toEqual({ owner: null, expiresAt: null });
  });

  it('takes turns once per window among the processes sharing it (SQLite: one process, every turn its own)', async () => {
    const first = await backend.open();
    const second = await backend.open();
    const turns = [
      await first.takeTurn('identify:0', 5000, 1000),
      await second.takeTurn('identify:0', 5000, 2000),
      await second.takeTurn('identify:1', 5000, 2000),
      await second.takeTurn('identify:0', 5000, 6000),
      await first.takeTurn('identify:0', 5000, 6500),
    ];
    expect(turns).toEqual(backend.name === 'sqlite' ? [0, 0, 0, 0, 0] : [0, 4000, 0, 0, 4500]);
  });

  it('counts usage in numbers, per channel and user, and the web searches', async () => {
    const store = await backend.open();
    const conversation = await store.conversations.findOrCreate(THREAD, 1);
    const usage = (userId: string, channelId: string, input: number, createdAt: number) =>
      store.usage.record({
        conversationId: conversation.id, platform: 'slack', workspaceId: 'T1', channelId, userId, model: 'claude-opus-4-8', requestId: 'req_1',
        inputTokens: input, outputTokens: 10, cacheReadTokens: 5, cacheCreationTokens: 1, webSearchRequests: 2, stopReason: 'end_turn', createdAt,
      });
    await usage('U1', 'C1', 100, 10);
    await usage('U2', 'C1', 300, 20);
    await usage('U1', 'C2', 1_000_000_000_000, 30);
    expect(await store.usage.totalSince('slack', 'T1', 15)).toBe(300 + 16 + 1_000_000_000_000 + 16);
    expect(await store.usage.totalSince('slack', 'T2', 0)).toBe(0);
    expect(await store.usage.searchesSince('slack', 'T1', 0)).toBe(6);
    expect(await store.usage.report('slack', 'T1', 0, 'channel')).toEqual([
      { key: 'C2', replies: 1, inputTokens: 1_000_000_000_000, outputTokens: 10, cacheReadTokens: 5, cacheCreationTokens: 1, webSearchRequests: 2, webFetchRequests: 0 },
      { key: 'C1', replies: 2, inputTokens: 400, outputTokens: 20, cacheReadTokens: 10, cacheCreationTokens: 2, webSearchRequests: 4, webFetchRequests: 0 },
    ]);
    expect((await store.usage.report('slack', 'T1', 0, 'user')).map((row) => [row.key, row.replies])).toEqual([
      ['U1', 2],
      ['U2', 1],
    ]);
  });

  it('keeps answers, votes and assistant threads', async () => {
    const store = await backend.open();
    const conversation = await store.conversations.findOrCreate(THREAD, 1);
    const question = (await store.messages.insert(userMessage(conversation.id, 'q'))) as number;
    const reply = { conversationId: conversation.id, authorId: 'self', authorName: 'threadline', authorKind: 'self', role: 'assistant', createdAt: 2, replyToMessageId: question } as const;
    const head = (await store.messages.insert({ ...reply, platformMessageId: 'a1', text: 'answer' })) as number;
    const part = (await store.messages.insert({ ...reply, platformMessageId: 'a2', text: '', replyPartOf: head })) as number;
    expect(await store.answers.answerTo(question)).toEqual({ id: head, conversationId: conversation.id, platformMessageIds: ['a1', 'a2'], partIds: [part], text: 'answer' });
    const vote = { answerId: head, platform: 'slack', workspaceId: 'T1', channelId: 'C1' } as const;
    await store.answers.vote({ ...vote, userId: 'U1', vote: 'up', at: 5 });
    await store.answers.vote({ ...vote, userId: 'U2', vote: 'up', at: 5 });
    await store.answers.vote({ ...vote, userId: 'U1', vote: 'down', at: 6 });
    expect(await store.answers.voteOf(head, 'U1')).toBe('down');
    expect(await store.answers.counts('slack', 'T1', 0)).toEqual({ up: 1, down: 1 });
    expect(await store.answers.markTitled('slack', 'T1', 'A1', 1)).toBe(false);
    await store.answers.setAssistantContext('slack', 'T1', 'A1', 'C9', '#general', 1);
    expect(await store.answers.markTitled('slack', 'T1', 'A1', 2)).toBe(true);
    expect(await store.answers.markTitled('slack', 'T1', 'A1', 3)).toBe(false);
    expect(await store.answers.assistantThread('slack', 'T1', 'A1')).toEqual({ contextChannelId: 'C9', contextLabel: '#general', titled: true });
  });

  it('prunes what retention removes, and lists recent threads with their last message', async () => {
    const store = await backend.open();
    const old = await store.conversations.findOrCreate({ ...THREAD, threadKey: 'old' }, 10);
    await store.messages.insert(userMessage(old.id, 'o1', { createdAt: 10 }));
    const recent = await store.conversations.findOrCreate(THREAD, 100);
    await store.messages.insert(userMessage(recent.id, 'r1', { createdAt: 100 }));
    await store.messages.insert(userMessage(recent.id, 'r2', { createdAt: 101 }));
    // The bot's own newer post is not where a catch-up reads on from (another replica may have posted it).
    await store.messages.insert(userMessage(recent.id, 'a3', { createdAt: 102, authorKind: 'self', role: 'assistant', authorId: 'BOT', authorName: 'threadline' }));
    await store.events.claim('old-event', 10);
    expect((await store.conversations.recent('slack', 50)).map((row) => [row.conversation.threadKey, row.lastMessageId])).toEqual([['C1:1.0', 'r2']]);
    expect(await store.prune(50, 50)).toEqual({ messages: 1, conversations: 1, events: 1, usage: 0, assistantThreads: 0 });
    expect(await store.conversations.find({ ...THREAD, threadKey: 'old' })).toBeUndefined();
    expect((await store.messages.thread(recent.id)).map((m) => m.platformMessageId)).toEqual(['r1', 'r2', 'a3']);
  });

  it('forgets a conversation: messages gone, conversation kept as already read', async () => {
    const store = await backend.open();
    const conversation = await store.conversations.findOrCreate(THREAD, 1);
    await store.conversations.setSystemPrompt(conversation.id, 'prompt', 3);
    await store.messages.insert(userMessage(conversation.id, 'm1'));
    await store.forgetConversation(conversation.id);
    const fresh = Store.over(store.executor);
    expect(await fresh.messages.thread(conversation.id)).toEqual([]);
    expect(await fresh.conversations.get(conversation.id)).toMatchObject({ systemPrompt: null, instructionsRev: 0, backfilled: true });
    expect(await store.conversations.get(conversation.id)).toMatchObject({ systemPrompt: null, instructionsRev: 0, backfilled: true });
  });

  it('records conversation activity to the minute, never backwards', async () => {
    const store = await backend.open();
    const stored = async (id: number) => (await store.executor.get<{ at: number }>('SELECT last_activity_at AS at FROM conversations WHERE id = ?', [id]))?.at;
    const { id } = await store.conversations.findOrCreate(THREAD, 1_000_000);
    const cases: Array<[touchAt: number, expected: number]> = [
      [1_000_000 + 59_999, 1_000_000],
      [1_000_000 + 60_000, 1_060_000],
      [1_000_000, 1_060_000],
      [5_000_000, 5_000_000],
    ];
    for (const [at, expected] of cases) {
      await store.conversations.touch(id, at);
      expect(await stored(id)).toBe(expected);
      expect((await store.conversations.get(id))?.lastActivityAt).toBe(expected);
    }
  });

  describe('settings', () => {
    const values = (map: ReadonlyMap<string, { value: string | null }>) => Object.fromEntries([...map].map(([key, change]) => [key, change.value]));

    it('keep the newest value per key and scope, and the history with the replaced values', async () => {
      const store = await backend.open();
      await store.settings.record('discord', 'G1', '', 'model', 'claude-sonnet-4-6', ann, 1);
      await store.settings.record('discord', 'G1', '', 'answers', 'off', ann, 2);
      await store.settings.record('discord', 'G1', '', 'model', 'claude-haiku-4-5', ann, 3);
      await store.settings.record('discord', 'G1', 'C1', 'answers', 'on', ann, 4);
      await store.settings.record('discord', 'G1', '', 'answers', null, ann, 5);
      await store.settings.record('slack', 'G1', '', 'model', 'claude-opus-4-8', ann, 6);
      const fresh = Store.over(store.executor);
      expect(values(await fresh.settings.current('discord', 'G1', ''))).toEqual({ model: 'claude-haiku-4-5', answers: null });
      // In the order the keys were last changed, on both backends (PostgreSQL has no implicit row order).
      expect([...(await fresh.settings.current('discord', 'G1', '')).keys()]).toEqual(['model', 'answers']);
      await store.settings.record('slack', 'T1', 'C1', 'answers', 'off', ann, 7);
      await store.settings.record('slack', 'T1', 'C1', 'answers', null, ann, 8);
      await store.settings.record('slack', 'T1', 'C1', 'prompts', 'Summarize | Draft', ann, 9);
      expect([...(await Store.over(store.executor).settings.current('slack', 'T1', 'C1')).keys()]).toEqual(['answers', 'prompts']);
      expect(values(await fresh.settings.current('discord', 'G1', 'C1'))).toEqual({ answers: 'on' });
      expect(values(await fresh.settings.current('discord', 'G2', ''))).toEqual({});
      expect((await fresh.settings.history('discord', 'G1', '', 10)).map((c) => [c.key, c.previous, c.value])).toEqual([
        ['answers', 'off', null],
        ['model', 'claude-sonnet-4-6', 'claude-haiku-4-5'],
        ['answers', null, 'off'],
        ['model', null, 'claude-sonnet-4-6'],
      ]);
    });

    it('read a scope once: later reads need no query, and changes are written through', async () => {
      const store = await backend.open();
      expect(values(await store.settings.current('slack', 'T1', 'C1'))).toEqual({});
      await store.settings.record('slack', 'T1', 'C1', 'answers', 'off', ann, 1);
      expect(values(await store.settings.current('slack', 'T1', 'C1'))).toEqual({ answers: 'off' });
      // Rows removed behind the store's back stay visible: the scope is served from memory.
      await store.executor.run('DELETE FROM settings');
      expect(values(await store.settings.current('slack', 'T1', 'C1'))).toEqual({ answers: 'off' });
    });
  });

  describe('caches', () => {
    it('the message cache always agrees with a fresh read, whatever the order of changes', async () => {
      const store = await backend.open();
      const conversation = await store.conversations.findOrCreate(THREAD, 0);
      let seed = 7;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const ids: number[] = [];
      await store.messages.thread(conversation.id); // warm the cache before the changes
      for (let step = 0; step < 150; step += 1) {
        const roll = random();
        if (roll < 0.6 || ids.length === 0) {
          const id = await store.messages.insert(
            userMessage(conversation.id, `m${step}`, {
              role: random() < 0.5 ? 'user' : 'assistant',
              text: `t${step}`,
              createdAt: Math.floor(random() * 1000),
              attachments: random() < 0.2 ? [{ platformFileId: `f${step}`, name: 'a.png', kind: 'image', mediaType: 'image/png', size: 1, width: 1, height: 1, url: 'u', urlExpiresAt: null }] : [],
            }),
          );
          if (id !== undefined) ids.push(id);
        } else if (roll < 0.75) {
          await store.messages.edit(ids[Math.floor(random() * ids.length)] as number, `edited ${step}`, step);
        } else if (roll < 0.85) {
          await store.messages.softDelete(ids[Math.floor(random() * ids.length)] as number, step);
        } else if (roll < 0.9) {
          const attachment = (await store.messages.thread(conversation.id)).flatMap((m) => m.attachments)[0];
          if (attachment !== undefined) await store.messages.setAnthropicFileId(attachment.id, `file_${step}`);
        } else {
          await expect(
            store.transaction(async (tx) => {
              await tx.messages.insert(userMessage(conversation.id, `rollback${step}`, { createdAt: 5 }));
              throw new Error('roll back');
            }),
          ).rejects.toThrow('roll back');
        }
        const thread = await Store.over(store.executor).messages.thread(conversation.id);
        expect(await store.messages.thread(conversation.id)).toEqual(thread);
        const probe = ids[Math.floor(random() * ids.length)] as number;
        expect(await store.messages.live(conversation.id, probe)).toEqual(thread.find((message) => message.id === probe));
        expect(await store.messages.live(conversation.id + 1, probe)).toBeUndefined();
      }
    });

    it('the conversation and instruction caches always agree with a fresh read', async () => {
      const store = await backend.open();
      const threads = Array.from({ length: 6 }, (_, i) => ({ ...THREAD, channelId: `C${i % 2}`, threadKey: `C${i % 2}:${i}.0` }));
      const scopes = ['', 'C0', 'C1'];
      let seed = 11;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
      const existing = async () => (await Promise.all(threads.map((thread) => store.conversations.find(thread)))).flatMap((found) => found ?? []);
      for (let step = 0; step < 200; step += 1) {
        const roll = random();
        const some = pick([...(await existing()), undefined]);
        if (roll < 0.2) await store.conversations.findOrCreate(pick(threads), step);
        else if (roll < 0.35 && some) await store.conversations.touch(some.id, Math.floor(random() * 600_000));
        else if (roll < 0.45 && some) await store.conversations.setSystemPrompt(some.id, random() < 0.2 ? null : `prompt ${step}`, step);
        else if (roll < 0.5 && some) await store.conversations.markBackfilled(some.id);
        else if (roll < 0.55 && some) await store.forgetConversation(some.id);
        else if (roll < 0.65) await store.prune(Math.floor(random() * 1000), 0);
        else if (roll < 0.8) await store.instructions.record('slack', THREAD.workspaceId, pick(scopes), random() < 0.3 ? null : `rule ${step}`, ann, step);
        else {
          await expect(
            store.transaction(async (tx) => {
              const created = await tx.conversations.findOrCreate(pick(threads), step);
              await tx.conversations.setSystemPrompt(created.id, `doomed ${step}`, step);
              await tx.conversations.touch(created.id, 10_000_000);
              await tx.instructions.record('slack', THREAD.workspaceId, pick(scopes), `doomed ${step}`, ann, step);
              throw new Error('roll back');
            }),
          ).rejects.toThrow('roll back');
        }
        const fresh = Store.over(store.executor);
        for (const thread of threads) {
          const expected = await fresh.conversations.find(thread);
          expect(await store.conversations.find(thread)).toEqual(expected);
          if (expected !== undefined) expect(await store.conversations.get(expected.id)).toEqual(expected);
        }
        for (const scope of scopes) expect(await store.instructions.current('slack', THREAD.workspaceId, scope)).toEqual(await fresh.instructions.current('slack', THREAD.workspaceId, scope));
      }
    });
  });
});

describe('opening', () => {
  it('names a SQLite path it cannot open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-store-'));
    try {
      writeFileSync(join(dir, 'file'), 'x');
      mkdirSync(join(dir, 'sub'));
      const opened = Store.open({ databasePath: join(dir, 'file', 'db.sqlite') });
      await expect(opened).rejects.toSatisfy((error: unknown) => isThreadlineError(error, 'db_open_failed'));
      await expect(opened).rejects.toThrow(/cannot open database/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a PostgreSQL server it cannot reach, without the password', async () => {
    const opened = Store.open({ databasePath: '', databaseUrl: 'postgres://threadline:s3cret-pass@127.0.0.1:1/threadline' });
    await expect(opened).rejects.toSatisfy((error: unknown) => isThreadlineError(error, 'db_open_failed'));
    const message = await opened.catch((error: Error) => error.message);
    expect(message).toMatch(/cannot open database postgres:\/\/threadline:\*\*\*@127\.0\.0\.1:1\/threadline/);
    expect(message).not.toContain('s3cret-pass');
    expect(redactedUrl('postgresql://u@h/db')).toBe('postgresql://u@h/db');
  });
});
