import type { Database } from 'better-sqlite3';
import type { Platform, ThreadRef } from '../core/types.js';
import type { Conversation } from './types.js';

interface ConversationRow {
  id: number;
  platform: Platform;
  workspace_id: string;
  channel_id: string;
  thread_key: string;
  created_at: number;
  last_activity_at: number;
  system_prompt: string | null;
  instructions_rev: number;
  backfilled: number;
}

const toConversation = (row: ConversationRow): Conversation => ({
  id: row.id,
  platform: row.platform,
  workspaceId: row.workspace_id,
  channelId: row.channel_id,
  threadKey: row.thread_key,
  createdAt: row.created_at,
  lastActivityAt: row.last_activity_at,
  systemPrompt: row.system_prompt,
  instructionsRev: row.instructions_rev,
  backfilled: row.backfilled === 1,
});

export class ConversationRepo {
  private readonly byKey;
  private readonly byId;
  private readonly insert;
  private readonly touchStmt;
  private readonly markBackfilledStmt;
  private readonly setPromptStmt;
  private readonly recentStmt;
  private readonly deleteStmt;

  constructor(db: Database) {
    this.byKey = db.prepare<[string, string, string], ConversationRow>(
      'SELECT * FROM conversations WHERE platform = ? AND workspace_id = ? AND thread_key = ?',
    );
    this.byId = db.prepare<[number], ConversationRow>('SELECT * FROM conversations WHERE id = ?');
    this.insert = db.prepare<[string, string, string, string, number, number], ConversationRow>(
      `INSERT INTO conversations (platform, workspace_id, channel_id, thread_key, created_at, last_activity_at)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
    );
    this.touchStmt = db.prepare<[number, number]>(
      'UPDATE conversations SET last_activity_at = max(last_activity_at, ?) WHERE id = ?',
    );
    this.markBackfilledStmt = db.prepare<[number]>('UPDATE conversations SET backfilled = 1 WHERE id = ?');
    this.setPromptStmt = db.prepare<[string | null, number, number]>(
      'UPDATE conversations SET system_prompt = ?, instructions_rev = ? WHERE id = ?',
    );
    this.recentStmt = db.prepare<[string, number], ConversationRow & { last_message_id: string }>(
      `SELECT c.*, (SELECT m.platform_message_id FROM messages m
                     WHERE m.conversation_id = c.id
                     ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS last_message_id
         FROM conversations c
        WHERE c.platform = ? AND c.last_activity_at >= ?`,
    );
    this.deleteStmt = db.prepare<[number]>('DELETE FROM conversations WHERE id = ?');
  }

  find(thread: ThreadRef): Conversation | undefined {
    const row = this.byKey.get(thread.platform, thread.workspaceId, thread.threadKey);
    return row === undefined ? undefined : toConversation(row);
  }

  get(id: number): Conversation | undefined {
    const row = this.byId.get(id);
    return row === undefined ? undefined : toConversation(row);
  }

  findOrCreate(thread: ThreadRef, now: number): Conversation {
    return (
      this.find(thread) ??
      toConversation(this.insert.get(thread.platform, thread.workspaceId, thread.channelId, thread.threadKey, now, now) as ConversationRow)
    );
  }

  touch(id: number, at: number): void {
    this.touchStmt.run(at, id);
  }

  markBackfilled(id: number): void {
    this.markBackfilledStmt.run(id);
  }

  setSystemPrompt(id: number, prompt: string | null, instructionsRev: number): void {
    this.setPromptStmt.run(prompt, instructionsRev, id);
  }

  recent(platform: Platform, since: number): Array<{ conversation: Conversation; lastMessageId: string | null }> {
    return this.recentStmt.all(platform, since).map((row) => ({ conversation: toConversation(row), lastMessageId: row.last_message_id }));
  }

  delete(id: number): void {
    this.deleteStmt.run(id);
  }
}
