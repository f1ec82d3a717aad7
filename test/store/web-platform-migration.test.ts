/**
 * The migration that admits the playground's 'web' platform rebuilds the conversations table:
 * every existing conversation, message, job and usage row must survive it untouched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/index.js';
import { SqliteExecutor } from '../../src/store/sql/sqlite.js';
import { migrationsBefore } from '../helpers/migrations.js';


describe('migration to the web platform', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-webmig-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every row that points at a conversation, and accepts web threads afterwards', async () => {
    const before = migrationsBefore(dir, 'web_platform');
    const path = join(dir, 'threadline.db');

    const old = Store.over(new SqliteExecutor(openDatabase(path, before)));
    const slack = await old.conversations.findOrCreate({ platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' }, 1000);
    const messageId = await old.messages.insert({ conversationId: slack.id, platformMessageId: '1.0', authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: 'hello', createdAt: 1000 });
    expect(messageId).toBeDefined();
    await old.jobs.create(messageId as number, slack.id, 1000);
    await expect(old.conversations.findOrCreate({ platform: 'web', workspaceId: 'playground', channelId: 'general', threadKey: 't1' }, 1000)).rejects.toThrow(/CHECK/);
    await old.close();

    const db = openDatabase(path);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const store = Store.over(new SqliteExecutor(db));
    const kept = await store.conversations.find({ platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' });
    expect(kept?.id).toBe(slack.id);
    expect((await store.messages.thread(slack.id)).map((message) => message.text)).toEqual(['hello']);
    expect((await store.jobs.open()).map((job) => job.messageId)).toEqual([messageId]);
    const web = await store.conversations.findOrCreate({ platform: 'web', workspaceId: 'playground', channelId: 'general', threadKey: 't1' }, 2000);
    expect((await store.conversations.find({ platform: 'web', workspaceId: 'playground', channelId: 'general', threadKey: 't1' }))?.id).toBe(web.id);
    // Foreign keys are enforced again: a message of a missing conversation is refused.
    expect(() => db.prepare("INSERT INTO messages (conversation_id, platform_message_id, author_id, author_name, role, text, created_at) VALUES (999, 'x', 'u', 'n', 'user', 't', 1)").run()).toThrow(/FOREIGN KEY/);
    await store.close();
  });
});
