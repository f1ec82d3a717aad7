/**
 * The migration that writes the CHECK constraints without IN lists rebuilds the messages,
 * reply_jobs, attachments and conversations tables: every row, and every row pointing at them,
 * must survive it, and the constraints and foreign keys must hold as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/index.js';
import { SqliteExecutor } from '../../src/store/sql/sqlite.js';
import { migrationsBefore } from '../helpers/migrations.js';

const THREAD = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' } as const;

describe('migration to CHECK constraints without IN lists', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-checkmig-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every row and every reference, and still refuses what the constraints refused', async () => {
    const before = migrationsBefore(dir, 'checks_without_lists');
    const path = join(dir, 'threadline.db');

    const old = Store.over(new SqliteExecutor(openDatabase(path, before)));
    const conversation = await old.conversations.findOrCreate(THREAD, 1000);
    const attachment = { platformFileId: 'F1', name: 'a.png', kind: 'image', mediaType: 'image/png', size: 10, width: 2, height: 3, url: 'https://files/a.png', urlExpiresAt: null } as const;
    const base = { conversationId: conversation.id, authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', createdAt: 1000 } as const;
    const question = (await old.messages.insert({ ...base, platformMessageId: '1.0', text: 'hello', attachments: [attachment] })) as number;
    const answer = (await old.messages.insert({ ...base, platformMessageId: '1.1', authorId: 'self', authorKind: 'self', role: 'assistant', text: 'hi', replyToMessageId: question })) as number;
    const job = (await old.jobs.create(question, conversation.id, 1000, { owner: 'r1', expiresAt: 5000 })) as number;
    await old.jobs.finish(job, 'done', 1100);
    await old.answers.vote({ answerId: answer, userId: 'U2', vote: 'up', platform: 'slack', workspaceId: 'T1', channelId: 'C1', at: 1200 });
    const oldThread = await old.messages.thread(conversation.id);
    await old.close();

    const db = openDatabase(path);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const store = Store.over(new SqliteExecutor(db));
    try {
      expect((await store.conversations.find(THREAD))?.id).toBe(conversation.id);
      expect(await store.messages.thread(conversation.id)).toEqual(oldThread);
      expect(await store.jobs.forMessage(question)).toMatchObject({ id: job, state: 'done', attempts: 0 });
      expect(await store.jobs.leaseOf(job)).toEqual({ owner: 'r1', expiresAt: 5000 });
      expect(await store.answers.voteOf(answer, 'U2')).toBe('up');
      expect((await store.answers.answerTo(question))?.id).toBe(answer);

      // The constraints refuse what they refused before, and admit what they admitted.
      const refused = [
        "INSERT INTO messages (conversation_id, platform_message_id, author_id, author_name, role, text, created_at) VALUES (1, 'x', 'u', 'n', 'robot', 't', 1)",
        "INSERT INTO messages (conversation_id, platform_message_id, author_id, author_name, author_kind, role, text, created_at) VALUES (1, 'y', 'u', 'n', 'alien', 'user', 't', 1)",
        "INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at) VALUES (1, 1, 'asleep', 1, 1)",
        "INSERT INTO attachments (message_id, position, platform_file_id, name, kind, url) VALUES (1, 5, 'F9', 'v', 'video', 'u')",
        "INSERT INTO conversations (platform, workspace_id, channel_id, thread_key, created_at, last_activity_at) VALUES ('irc', 'w', 'c', 't', 1, 1)",
      ];
      for (const sql of refused) expect(() => db.prepare(sql).run(), sql).toThrow(/CHECK/);
      for (const platform of ['discord', 'web'] as const) await store.conversations.findOrCreate({ ...THREAD, platform, threadKey: platform }, 2000);
      for (const [role, authorKind] of [['system', 'system'], ['user', 'bot']] as const) {
        expect(await store.messages.insert({ ...base, platformMessageId: `${role}-${authorKind}`, role, authorKind, text: 't' })).toBeGreaterThan(0);
      }
      // Foreign keys are enforced again, and deleting still cascades through the rebuilt tables.
      expect(() => db.prepare("INSERT INTO messages (conversation_id, platform_message_id, author_id, author_name, role, text, created_at) VALUES (999, 'z', 'u', 'n', 'user', 't', 1)").run()).toThrow(/FOREIGN KEY/);
      db.prepare('DELETE FROM messages WHERE id = ?').run(question);
      const left = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      expect([left('attachments'), left('reply_jobs')]).toEqual([0, 0]);
      expect(db.prepare('SELECT reply_to_message_id FROM messages WHERE id = ?').get(answer)).toEqual({ reply_to_message_id: null });
      db.prepare('DELETE FROM messages WHERE id = ?').run(answer);
      expect(left('answer_feedback')).toBe(0);
    } finally {
      await store.close();
    }
  });
});
