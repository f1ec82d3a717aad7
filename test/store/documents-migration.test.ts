import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/index.js';
import { migrationsBefore } from '../helpers/migrations.js';

const THREAD = { platform: 'discord', workspaceId: 'g1', channelId: 'c1', threadKey: 't1' } as const;

describe('the documents migration', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-0004-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps attachments stored before it, turns stored PDFs into documents, and stores page counts after it', async () => {
    // A database written by the release before: the migrations before this one only.
    const before = migrationsBefore(dir, 'documents');
    const path = join(dir, 'threadline.db');
    const old = openDatabase(path, before);
    old.prepare("INSERT INTO conversations (id, platform, workspace_id, channel_id, thread_key, created_at, last_activity_at) VALUES (1, 'discord', 'g1', 'c1', 't1', 1, 1)").run();
    old.prepare("INSERT INTO messages (id, conversation_id, platform_message_id, author_id, author_name, author_kind, role, text, created_at) VALUES (1, 1, 'm1', 'u1', 'Alice', 'user', 'user', 'see files', 1)").run();
    const attach = old.prepare('INSERT INTO attachments (message_id, position, platform_file_id, name, kind, media_type, size, url, anthropic_file_id) VALUES (1, ?, ?, ?, ?, ?, 10, ?, ?)');
    attach.run(0, 'a', 'cat.png', 'image', 'image/png', 'https://cdn/cat.png', 'file_cat');
    attach.run(1, 'b', 'spec.pdf', 'other', 'application/pdf', 'https://cdn/spec.pdf', null);
    attach.run(2, 'c', 'sheet.xlsx', 'other', null, 'https://cdn/sheet.xlsx', null);
    old.close();

    const store = await Store.open({ databasePath: path });
    try {
      const conversation = await store.conversations.find(THREAD);
      const [message] = await store.messages.thread(conversation?.id ?? -1);
      expect(message?.attachments.map((a) => [a.name, a.kind, a.anthropicFileId, a.pageCount])).toEqual([
        ['cat.png', 'image', 'file_cat', null],
        ['spec.pdf', 'document', null, null],
        ['sheet.xlsx', 'other', null, null],
      ]);
      await store.messages.setDocumentPages(message?.attachments[1]?.id ?? -1, 12);
      expect((await store.messages.thread(conversation?.id ?? -1))[0]?.attachments[1]?.pageCount).toBe(12);
    } finally {
      await store.close();
    }
  });
});
