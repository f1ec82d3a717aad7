/** What only the SQLite backend has: its pragmas, its one connection shared by transactions, and its query plans. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MIGRATIONS_DIR, openDatabase } from '../../src/store/database.js';
import { readMigrations } from '../../src/store/migrate.js';
import { SqliteExecutor } from '../../src/store/sql/sqlite.js';
import { POSTGRES_MIGRATIONS_DIR, Store } from '../../src/store/store.js';

const THREAD = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' } as const;
const ann = { id: 'U1', name: 'Ann' };

describe('SQLite backend', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-sqlite-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens in WAL mode with foreign keys on, creating the directory', async () => {
    const store = await Store.open({ databasePath: join(dir, 'a', 'b', 'threadline.db') });
    try {
      expect(await store.executor.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' });
      expect(await store.executor.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 });
      expect(await store.executor.get('PRAGMA user_version')).toEqual({ user_version: readMigrations(MIGRATIONS_DIR).length });
    } finally {
      await store.close();
    }
  });

  it('rejects gaps in migration numbering; both backends number theirs without gaps', () => {
    const gappy = join(dir, 'gappy');
    mkdirSync(gappy);
    writeFileSync(join(gappy, '0001_a.sql'), 'SELECT 1;');
    writeFileSync(join(gappy, '0003_c.sql'), 'SELECT 1;');
    expect(() => readMigrations(gappy)).toThrow(/without gaps/);
    expect(readMigrations(MIGRATIONS_DIR).length).toBeGreaterThan(0);
    expect(readMigrations(POSTGRES_MIGRATIONS_DIR).length).toBeGreaterThan(0);
  });

  it('fails, instead of hanging, a statement sent through the store from inside its own transaction', async () => {
    const store = Store.over(new SqliteExecutor(openDatabase(join(dir, 'threadline.db')), { waitLimitMs: 200 }));
    try {
      await expect(
        store.transaction(async (tx) => {
          await tx.events.claim('inside', 1);
          await store.events.claim('outside-but-awaited-inside', 1);
        }),
      ).rejects.toThrow(/use the store it hands its body/);
      // Rolled back, and the connection is free again.
      expect(await store.events.claim('inside', 2)).toBe(true);
    } finally {
      await store.close();
    }
  });

  /** A transaction that holds the connection until `open()`; `order` collects what ran, 'first' for it. */
  function heldTransaction(store: Store): { order: string[]; open: () => void; first: Promise<void> } {
    const order: string[] = [];
    let open!: () => void;
    const held = new Promise<void>((resolve) => (open = resolve));
    const first = store.transaction(async (tx) => {
      await held;
      await tx.events.claim('first', 1);
      order.push('first');
    });
    return { order, open, first };
  }

  it('hands the connection on in arrival order, statements before transactions, waking each waiter once (a burst of replies does not wake every waiter at every turn)', async () => {
    const store = Store.over(new SqliteExecutor(openDatabase(join(dir, 'threadline.db'))));
    try {
      const { order, open, first } = heldTransaction(store);
      const timers = vi.spyOn(globalThis, 'setTimeout');
      const waiting = Array.from({ length: 30 }, (_, i) =>
        i % 3 === 2
          ? store.events.claim(`alone ${i}`, 1).then(() => order.push(`alone ${i}`))
          : store.transaction(async (tx) => {
              await tx.events.claim(`tx ${i}`, 1);
              order.push(`tx ${i}`);
            }),
      );
      open();
      await Promise.all([first, ...waiting]);
      const arrived = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? `alone ${i}` : `tx ${i}`));
      expect(order).toEqual(['first', ...arrived.filter((name) => name.startsWith('alone')), ...arrived.filter((name) => name.startsWith('tx'))]);
      // One wait-limit timer per waiter, set once.
      expect(timers.mock.calls.length).toBe(30);
    } finally {
      vi.restoreAllMocks();
      await store.close();
    }
  });

  it('serves I/O between queued transactions: the next one starts on a later turn of the event loop', async () => {
    const store = Store.over(new SqliteExecutor(openDatabase(join(dir, 'threadline.db'))));
    try {
      const order: string[] = [];
      const first = store.transaction(async (tx) => {
        await tx.events.claim('first', 1);
        // Stands for a socket's callback that became ready while the transaction ran.
        setImmediate(() => order.push('I/O'));
        order.push('first');
      });
      const second = store.transaction(async (tx) => {
        await tx.events.claim('second', 1);
        order.push('second');
      });
      await Promise.all([first, second]);
      expect(order).toEqual(['first', 'I/O', 'second']);
    } finally {
      await store.close();
    }
  });

  it('lets a statement waiting behind a transaction run before the transactions queued ahead of it', async () => {
    const store = Store.over(new SqliteExecutor(openDatabase(join(dir, 'threadline.db'))));
    try {
      const { order, open, first } = heldTransaction(store);
      const queued = Array.from({ length: 3 }, (_, i) =>
        store.transaction(async (tx) => {
          await tx.events.claim(`tx ${i}`, 1);
          order.push(`tx ${i}`);
        }),
      );
      const statement = store.events.claim('statement', 1).then(() => order.push('statement'));
      open();
      await Promise.all([first, ...queued, statement]);
      expect(order).toEqual(['first', 'statement', 'tx 0', 'tx 1', 'tx 2']);
    } finally {
      await store.close();
    }
  });

  it('closes after the transactions queued before it, not ahead of them like a statement', async () => {
    const store = Store.over(new SqliteExecutor(openDatabase(join(dir, 'threadline.db'))));
    const { order, open, first } = heldTransaction(store);
    const queued = store.transaction(async (tx) => {
      await tx.events.claim('queued', 1);
      order.push('queued');
    });
    const closed = store.close().then(() => order.push('closed'));
    open();
    await Promise.all([first, queued, closed]);
    expect(order).toEqual(['first', 'queued', 'closed']);
  });

  it('writes a reply (question with an attachment, its job, the answer, usage, the job closed) without building a temporary b-tree', async () => {
    // SQLite builds one for a CHECK with an IN list of three values or more and for RETURNING,
    // each with a page cache of its own in freshly faulted memory: most of its time per reply.
    const executor = new SqliteExecutor(openDatabase(join(dir, 'threadline.db')));
    const store = Store.over(executor);
    try {
      const conversation = await store.conversations.findOrCreate(THREAD, 1);
      const attachment = { platformFileId: 'F', name: 'a.png', kind: 'image', mediaType: 'image/png', size: 1, width: 1, height: 1, url: 'u', urlExpiresAt: null } as const;
      const question = { conversationId: conversation.id, authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: 'q', createdAt: 1 } as const;
      const before = new Set(executor.statementTexts());
      await store.transaction(async (tx) => {
        const id = (await tx.messages.insert({ ...question, platformMessageId: 'q1', attachments: [attachment] })) as number;
        await tx.conversations.touch(conversation.id, 2);
        expect(await tx.jobs.create(id, conversation.id, 2, { owner: 'me', expiresAt: 10 })).toBeGreaterThan(0);
      });
      const [job] = await store.jobs.open();
      await store.transaction(async (tx) => {
        await tx.messages.insert({ ...question, platformMessageId: 'a1', authorId: 'self', authorKind: 'self', role: 'assistant', text: 'a', replyToMessageId: job?.messageId ?? 0 });
        await tx.usage.record({ conversationId: conversation.id, platform: 'slack', workspaceId: 'T1', channelId: 'C1', userId: 'U1', model: 'm', requestId: null, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0, stopReason: null, createdAt: 3 });
        await tx.jobs.finish(job?.id ?? 0, 'done', 3);
      });
      const writes = executor.statementTexts().filter((text) => !before.has(text) && /^\s*(INSERT|UPDATE)/.test(text));
      expect(writes.length).toBeGreaterThanOrEqual(5);
      const temporary = writes.filter((text) => {
        const args = Array.from(text.matchAll(/\?/g), () => null);
        return (executor.database.prepare(`EXPLAIN ${text}`).all(...args) as Array<{ opcode: string }>).some((op) => op.opcode === 'OpenEphemeral');
      });
      expect(temporary).toEqual([]);
    } finally {
      await store.close();
    }
  });

  describe('query plans', () => {
    /** Full scans that are fine: they run at startup or in the daily retention pass, not per message. */
    const allowedScans: Array<[table: string, sql: RegExp, why: string]> = [
      ['reply_jobs', /FROM reply_jobs WHERE state IN/, 'unfinished jobs, once at startup'],
      ['messages', /DELETE FROM messages WHERE created_at/, 'retention'],
      ['usage', /DELETE FROM usage WHERE created_at/, 'retention'],
      ['conversations', /DELETE FROM conversations WHERE last_activity_at/, 'retention'],
      ['assistant_threads', /DELETE FROM assistant_threads WHERE updated_at/, 'retention'],
      ['rate_limit_hits', /DELETE FROM rate_limit_hits WHERE at/, 'retention (a few rows per key hit in the last minute; empty on SQLite)'],
      // Deleting one of the few conversations retention removes checks the tables that point at it.
      ['usage', /DELETE FROM conversations WHERE last_activity_at/, 'retention'],
      ['reply_jobs', /DELETE FROM conversations WHERE last_activity_at/, 'retention'],
      // Planned for foreign-key bookkeeping that SQLite runs only when deferred violations are
      // pending, which never happens here (an insert takes as long with 300k usage rows as with none).
      ['usage', /^INSERT INTO conversations/, 'never runs'],
      ['reply_jobs', /^INSERT INTO conversations/, 'never runs'],
    ];

    /** Calls every repository method once, so every statement the store has gets prepared. */
    async function tour(store: Store): Promise<void> {
      const conversation = await store.conversations.findOrCreate(THREAD, 1);
      await store.conversations.get(conversation.id + 100);
      await store.conversations.touch(conversation.id, 10_000_000);
      await store.conversations.markBackfilled(conversation.id);
      await store.conversations.setSystemPrompt(conversation.id, 'p', 1);
      await store.conversations.recent('slack', 0);
      const attachment = { platformFileId: 'F', name: 'a.png', kind: 'image', mediaType: 'image/png', size: 1, width: 1, height: 1, url: 'u', urlExpiresAt: null } as const;
      const base = { conversationId: conversation.id, authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: 'x', createdAt: 1 } as const;
      const id = (await store.messages.insert({ ...base, platformMessageId: 'm1', attachments: [attachment] })) as number;
      await store.messages.find(conversation.id, 'm1');
      await store.messages.get(id);
      await Store.over(store.executor).messages.thread(conversation.id);
      await Store.over(store.executor).messages.live(conversation.id, id);
      await Store.over(store.executor).messages.hasAssistantTurn(conversation.id);
      await store.messages.edit(id, 'y', 2, [attachment]);
      const [stored] = (await store.messages.get(id))?.attachments ?? [];
      await store.messages.refreshAttachmentUrl(stored?.id ?? 0, 'u2', null);
      await store.messages.setAnthropicFileId(stored?.id ?? 0, 'file');
      await store.messages.setAttachmentText(stored?.id ?? 0, 'text');
      await store.messages.setAttachmentUnavailable(stored?.id ?? 0, 'why');
      await store.messages.setDocumentPages(stored?.id ?? 0, 3);
      const job = (await store.jobs.create(id, conversation.id, 1)) as number;
      await store.jobs.resumed(job, 2);
      await store.jobs.finish(job, 'done', 3);
      await store.jobs.finish(job, 'failed', 3);
      await store.jobs.open();
      await store.jobs.forMessage(id);
      await store.instructions.record('slack', 'T1', '', 'i', ann, 1);
      await Store.over(store.executor).instructions.current('slack', 'T1', '');
      await store.instructions.history('slack', 'T1', '', 5);
      await store.settings.record('slack', 'T1', '', 'model', 'm', ann, 1);
      await Store.over(store.executor).settings.current('slack', 'T1', '');
      await store.settings.history('slack', 'T1', '', 5);
      await store.events.claim('k', 1);
      await store.events.pruneOlderThan(0);
      await store.usage.record({ conversationId: conversation.id, platform: 'slack', workspaceId: 'T1', channelId: 'C1', userId: 'U1', model: 'm', requestId: null, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0, stopReason: null, createdAt: 1 });
      await store.usage.totalSince('slack', 'T1', 0);
      await store.usage.searchesSince('slack', 'T1', 0);
      await store.usage.report('slack', 'T1', 0, 'channel');
      await store.usage.report('slack', 'T1', 0, 'user');
      await store.answers.answerTo(id);
      await store.answers.vote({ answerId: id, userId: 'U1', vote: 'up', platform: 'slack', workspaceId: 'T1', channelId: 'C1', at: 1 });
      await store.answers.voteOf(id, 'U1');
      await store.answers.counts('slack', 'T1', 0);
      await store.answers.setAssistantContext('slack', 'T1', 'A', null, null, 1);
      await store.answers.assistantThread('slack', 'T1', 'A');
      await store.answers.markTitled('slack', 'T1', 'A', 1);
      await store.messages.softDelete(id, 5);
      await store.forgetConversation(conversation.id);
      await store.prune(0, 0);
    }

    it('every statement the store runs finds its rows through an index, but for the listed startup and retention scans', async () => {
      const executor = new SqliteExecutor(openDatabase(join(dir, 'threadline.db')));
      const store = Store.over(executor);
      try {
        await tour(store);
        const sources = executor.statementTexts();
        expect(sources.length).toBeGreaterThan(40);
        const scans: string[] = [];
        for (const source of sources.filter((text) => !/^(SELECT 1|PRAGMA|SAVEPOINT|RELEASE|ROLLBACK)/.test(text))) {
          const args = Array.from(source.matchAll(/\?/g), () => null);
          const plan = executor.database.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...args) as Array<{ detail: string }>;
          for (const { detail } of plan) {
            const table = /^SCAN (\w+)(?! USING (?:COVERING )?INDEX)/.exec(detail)?.[1];
            if (table === undefined || detail.startsWith('SCAN CONSTANT ROW')) continue;
            if (allowedScans.some(([allowed, sql]) => allowed === table && sql.test(source.trim()))) continue;
            scans.push(`${detail} in: ${source.replace(/\s+/g, ' ')}`);
          }
        }
        expect(scans).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });
});
