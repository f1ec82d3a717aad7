import { LRUCache } from 'lru-cache';
import type { Platform, ThreadRef } from '../core/types.js';
import type { Conversation } from './types.js';
import { epochKeys } from './cache-epochs.js';
import { Repo } from './repo.js';

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

/** `systemPrompt`: the row's, or the same text's shared instance (ConversationRepo.sharedPrompt). */
const toConversation = (row: ConversationRow, systemPrompt = row.system_prompt): Conversation => ({
  id: row.id,
  platform: row.platform,
  workspaceId: row.workspace_id,
  channelId: row.channel_id,
  threadKey: row.thread_key,
  createdAt: row.created_at,
  lastActivityAt: row.last_activity_at,
  systemPrompt,
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

/**
 * Distinct system prompts kept once each. A server's threads mostly share theirs (the same
 * instructions), yet every cached conversation held its own copy, built or read for it: about
 * 1 KB each, the largest part of what an idle thread costs (`npm run bench`, figure 6).
 */
const SHARED_PROMPTS = 256;

/** A thread's cache key (also its key in cache-epochs.ts). */
export const keyOf = (thread: Pick<ThreadRef, 'platform' | 'workspaceId' | 'threadKey'>) => `${thread.platform}\u0000${thread.workspaceId}\u0000${thread.threadKey}`;

/**
 * Every write goes through this repo, so the cache is written through and never stale (replicas
 * sharing PostgreSQL hear each other's writes: replica-caches.ts); a thread the
 * bot takes no part in is remembered as absent (`false`), so chatter there costs no query.
 * Bulk deletes and rolled-back transactions drop the whole cache (`invalidate`).
 */
export class ConversationRepo extends Repo {
  private readonly keyById = new Map<number, string>();
  private readonly prompts = new LRUCache<string, string>({ max: SHARED_PROMPTS });
  private readonly cache = new LRUCache<string, Conversation | false>({
    max: CACHED_CONVERSATIONS,
    dispose: (conversation, _key, reason) => {
      if (reason === 'evict' && conversation !== false) this.keyById.delete(conversation.id);
    },
  });

  async find(thread: ThreadRef): Promise<Conversation | undefined> {
    const key = keyOf(thread);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached === false ? undefined : cached;
    const since = this.epochs.start();
    const row = await this.sql.get<ConversationRow>('SELECT * FROM conversations WHERE platform = ? AND workspace_id = ? AND thread_key = ?', [
      thread.platform,
      thread.workspaceId,
      thread.threadKey,
    ]);
    return this.remember(key, row === undefined ? false : this.fromRow(row), since) || undefined;
  }

  async get(id: number): Promise<Conversation | undefined> {
    const key = this.keyById.get(id);
    const cached = key === undefined ? undefined : this.cache.get(key);
    if (cached) return cached;
    const since = this.epochs.start();
    const row = await this.sql.get<ConversationRow>('SELECT * FROM conversations WHERE id = ?', [id]);
    return row === undefined ? undefined : (this.remember(keyOf(toThread(row)), this.fromRow(row), since) as Conversation);
  }

  /** The thread's conversation, created when missing; a concurrent creator (another process) wins quietly. */
  async findOrCreate(thread: ThreadRef, now: number): Promise<Conversation> {
    const found = await this.find(thread);
    if (found !== undefined) return found;
    const since = this.epochs.start();
    const row =
      (await this.sql.get<ConversationRow>(
        `INSERT INTO conversations (platform, workspace_id, channel_id, thread_key, created_at, last_activity_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, thread_key) DO NOTHING RETURNING *`,
        [thread.platform, thread.workspaceId, thread.channelId, thread.threadKey, now, now],
      )) ??
      (await this.sql.get<ConversationRow>('SELECT * FROM conversations WHERE platform = ? AND workspace_id = ? AND thread_key = ?', [
        thread.platform,
        thread.workspaceId,
        thread.threadKey,
      ]));
    return this.remember(keyOf(thread), this.fromRow(row as ConversationRow), since) as Conversation;
  }

  /** Marks activity, to the minute: see ACTIVITY_RESOLUTION_MS. Never moves it backwards. */
  async touch(id: number, at: number): Promise<void> {
    const key = this.keyById.get(id);
    const cached = key === undefined ? undefined : this.cache.peek(key);
    if (cached && at < cached.lastActivityAt + ACTIVITY_RESOLUTION_MS) return;
    await this.sql.run('UPDATE conversations SET last_activity_at = ? WHERE id = ? AND last_activity_at < ?', [at, id, at]);
    this.update(id, (conversation) => (at > conversation.lastActivityAt ? { ...conversation, lastActivityAt: at } : conversation));
  }

  async markBackfilled(id: number): Promise<void> {
    await this.sql.run('UPDATE conversations SET backfilled = 1 WHERE id = ?', [id]);
    this.update(id, (conversation) => ({ ...conversation, backfilled: true }));
  }

  async setSystemPrompt(id: number, prompt: string | null, instructionsRev: number): Promise<void> {
    await this.sql.run('UPDATE conversations SET system_prompt = ?, instructions_rev = ? WHERE id = ?', [prompt, instructionsRev, id]);
    this.update(id, (conversation) => ({ ...conversation, systemPrompt: this.sharedPrompt(prompt), instructionsRev }));
  }

  /**
   * Conversations active since `since`, each with the newest message someone other than the bot
   * wrote: where a catch-up reads on from. Not the bot's own newest post: with several replicas,
   * another replica may have answered (posted and stored) after messages the dead one received
   * and never stored, and reading on from that answer would skip them.
   */
  async recent(platform: Platform, since: number): Promise<Array<{ conversation: Conversation; lastMessageId: string | null }>> {
    const rows = await this.sql.all<ConversationRow & { last_message_id: string | null }>(
      `SELECT c.*, (SELECT m.platform_message_id FROM messages m
                     WHERE m.conversation_id = c.id AND m.author_kind <> 'self'
                     ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS last_message_id
         FROM conversations c
        WHERE c.platform = ? AND c.last_activity_at >= ?`,
      [platform, since],
    );
    return rows.map((row) => ({ conversation: toConversation(row), lastMessageId: row.last_message_id }));
  }

  /** Forgets every cached row: after bulk deletes, or a rolled-back transaction. */
  invalidate(): void {
    this.cache.clear();
    this.keyById.clear();
  }

  /** The conversation `id` of `thread` changed in the database (a committed write, by any replica). */
  dropCached(id: number, thread: Pick<ThreadRef, 'platform' | 'workspaceId' | 'threadKey'>): void {
    this.cache.delete(keyOf(thread));
    const key = this.keyById.get(id);
    if (key !== undefined) this.cache.delete(key);
    this.keyById.delete(id);
  }

  /** Caches what a load that began at `since` read, unless another replica changed it meanwhile. */
  private remember(key: string, conversation: Conversation | false, since: number): Conversation | false {
    const unchanged = this.epochs.unchanged(epochKeys.conversationThread(key), since) && (conversation === false || this.epochs.unchanged(epochKeys.conversationId(conversation.id), since));
    if (!unchanged) return conversation;
    this.cache.set(key, conversation);
    if (conversation !== false) this.keyById.set(conversation.id, key);
    return conversation;
  }

  /** A row read from the database as a conversation, its prompt the shared instance. */
  private fromRow(row: ConversationRow): Conversation {
    return toConversation(row, this.sharedPrompt(row.system_prompt));
  }

  /** The one kept instance of this prompt's text (see SHARED_PROMPTS). */
  private sharedPrompt<Prompt extends string | null>(prompt: Prompt): Prompt {
    if (prompt === null) return prompt;
    const known = this.prompts.get(prompt);
    if (known !== undefined) return known as Prompt;
    this.prompts.set(prompt, prompt);
    return prompt;
  }

  /** Cached rows are replaced, never changed: a caller may still hold the old object. */
  private update(id: number, change: (conversation: Conversation) => Conversation): void {
    const key = this.keyById.get(id);
    const cached = key === undefined ? undefined : this.cache.peek(key);
    if (key !== undefined && cached) this.cache.set(key, change(cached));
  }
}

const toThread = (row: ConversationRow) => ({ platform: row.platform, workspaceId: row.workspace_id, threadKey: row.thread_key });
