import type { Database } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
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

/** Conversations kept in memory: every message and reply looks its conversation up, often twice. */
const CACHED_CONVERSATIONS = 2048;

/**
 * `last_activity_at` only has to be right to the minute (catch-up and retention look back hours
 * and days); writing it for every message would rewrite the row and its index twice per reply.
 */
const ACTIVITY_RESOLUTION_MS = 60_000;

const keyOf = (thread: Pick<ThreadRef, 'platform' | 'workspaceId' | 'threadKey'>) => `${thread.platform}\u0000${thread.workspaceId}\u0000${thread.threadKey}`;

/**
 * Every write goes through this repo, so the cache is written through and never stale; a thread
 * the bot takes no part in is remembered as absent (`false`), so chatter there costs no query.
 * Bulk deletes and rolled-back transactions drop the whole cache (`invalidate`).
 */
export class ConversationRepo {
  private readonly keyById = new Map<number, string>();
  private readonly cache = new LRUCache<string, Conversation | false>({
    max: CACHED_CONVERSATIONS,
    dispose: (conversation, _key, reason) => {
      if (reason === 'evict' && conversation !== false) this.keyById.delete(conversation.id);
    },
  });
  private readonly byKey;
  private readonly byId;
  private readonly insert;
  private readonly touchStmt;
  private readonly markBackfilledStmt;
  private readonly setPromptStmt;
  private readonly recentStmt;

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
  }

  find(thread: ThreadRef): Conversation | undefined {
    const key = keyOf(thread);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached === false ? undefined : cached;
    const row = this.byKey.get(thread.platform, thread.workspaceId, thread.threadKey);
    return this.remember(key, row === undefined ? false : toConversation(row)) || undefined;
  }

  get(id: number): Conversation | undefined {
    const key = this.keyById.get(id);
    const cached = key === undefined ? undefined : this.cache.get(key);
    if (cached) return cached;
    const row = this.byId.get(id);
    return row === undefined ? undefined : (this.remember(keyOf(toThread(row)), toConversation(row)) as Conversation);
  }

  findOrCreate(thread: ThreadRef, now: number): Conversation {
    return (
      this.find(thread) ??
      (this.remember(
        keyOf(thread),
        toConversation(this.insert.get(thread.platform, thread.workspaceId, thread.channelId, thread.threadKey, now, now) as ConversationRow),
      ) as Conversation)
    );
  }

  /** Marks activity, to the minute: see ACTIVITY_RESOLUTION_MS. */
  touch(id: number, at: number): void {
    const key = this.keyById.get(id);
    const cached = key === undefined ? undefined : this.cache.peek(key);
    if (cached && at < cached.lastActivityAt + ACTIVITY_RESOLUTION_MS) return;
    this.touchStmt.run(at, id);
    this.update(id, (conversation) => (at > conversation.lastActivityAt ? { ...conversation, lastActivityAt: at } : conversation));
  }

  markBackfilled(id: number): void {
    this.markBackfilledStmt.run(id);
    this.update(id, (conversation) => ({ ...conversation, backfilled: true }));
  }

  setSystemPrompt(id: number, prompt: string | null, instructionsRev: number): void {
    this.setPromptStmt.run(prompt, instructionsRev, id);
    this.update(id, (conversation) => ({ ...conversation, systemPrompt: prompt, instructionsRev }));
  }

  recent(platform: Platform, since: number): Array<{ conversation: Conversation; lastMessageId: string | null }> {
    return this.recentStmt.all(platform, since).map((row) => ({ conversation: toConversation(row), lastMessageId: row.last_message_id }));
  }

  /** Forgets every cached row: after bulk deletes, or a rolled-back transaction. */
  invalidate(): void {
    this.cache.clear();
    this.keyById.clear();
  }

  private remember(key: string, conversation: Conversation | false): Conversation | false {
    this.cache.set(key, conversation);
    if (conversation !== false) this.keyById.set(conversation.id, key);
    return conversation;
  }

  /** Cached rows are replaced, never changed: a caller may still hold the old object. */
  private update(id: number, change: (conversation: Conversation) => Conversation): void {
    const key = this.keyById.get(id);
    const cached = key === undefined ? undefined : this.cache.peek(key);
    if (key !== undefined && cached) this.cache.set(key, change(cached));
  }
}

const toThread = (row: ConversationRow) => ({ platform: row.platform, workspaceId: row.workspace_id, threadKey: row.thread_key });
