/**
 * The threads MessageRepo keeps in memory: each conversation's live messages in thread order,
 * and, on PostgreSQL, the messages other replicas added to it since (ids heard from their
 * notifications, see replica-caches.ts). The next read fetches just those rows and merges them
 * in, instead of reloading a long thread because a message landed on another replica; rows it
 * already had stay the same objects, so the core still extends its last request.
 */
import { LRUCache } from 'lru-cache';
import type { StoredMessage } from './types.js';

export class ThreadCache {
  /** Ids other replicas added per cached conversation, not yet in its rows. */
  private readonly added = new Map<number, Set<number>>();
  private readonly threads: LRUCache<number, StoredMessage[]>;

  constructor(max: number) {
    this.threads = new LRUCache<number, StoredMessage[]>({ max, dispose: (_rows, conversationId, reason) => reason !== 'set' && this.added.delete(conversationId) });
  }

  /** The cached rows, when nothing was added elsewhere since. */
  complete(conversationId: number): StoredMessage[] | undefined {
    return this.added.has(conversationId) ? undefined : this.threads.get(conversationId);
  }

  /** The cached rows, complete or not (what this process inserts is appended to them). */
  peek(conversationId: number): StoredMessage[] | undefined {
    return this.threads.peek(conversationId);
  }

  set(conversationId: number, rows: StoredMessage[]): void {
    this.threads.set(conversationId, rows);
    this.added.delete(conversationId);
  }

  delete(conversationId: number): void {
    this.threads.delete(conversationId);
    this.added.delete(conversationId);
  }

  clear(): void {
    this.threads.clear();
    this.added.clear();
  }

  /** Whether the conversation's cached rows hold message `messageId` (newest first: usually the last). */
  has(conversationId: number, messageId: number): boolean {
    const rows = this.threads.peek(conversationId);
    for (let index = (rows?.length ?? 0) - 1; index >= 0; index -= 1) if ((rows as StoredMessage[])[index]?.id === messageId) return true;
    return false;
  }

  /** Message `messageId` of the conversation (or attachments of it) is to be fetched on the next read: another replica inserted it, or a load missed it. */
  fetchOnNextRead(conversationId: number, messageId: number): void {
    if (!this.threads.has(conversationId)) return;
    const ids = this.added.get(conversationId) ?? new Set<number>();
    ids.add(messageId);
    this.added.set(conversationId, ids);
  }

  /** The cached rows and the ids to fetch for them; additions heard from now on start a new list. */
  takeAdded(conversationId: number): { rows: StoredMessage[]; ids: number[] } | undefined {
    const rows = this.threads.get(conversationId);
    const ids = this.added.get(conversationId);
    if (rows === undefined || ids === undefined) return undefined;
    this.added.delete(conversationId);
    return { rows, ids: [...ids] };
  }

  /**
   * Puts `fetched` into `rows` in thread order (created_at, id), replacing a row with the same
   * id; false when `rows` is no longer the cached thread (dropped meanwhile: read it again).
   */
  merge(conversationId: number, rows: StoredMessage[], fetched: readonly StoredMessage[]): boolean {
    if (this.threads.peek(conversationId) !== rows) return false;
    for (const message of fetched) {
      const existing = rows.findIndex((row) => row.id === message.id);
      if (existing >= 0) rows.splice(existing, 1);
      let index = rows.length;
      while (index > 0 && isAfter(rows[index - 1] as StoredMessage, message)) index -= 1;
      rows.splice(index, 0, message);
    }
    return true;
  }
}

const isAfter = (row: StoredMessage, message: StoredMessage) => row.createdAt > message.createdAt || (row.createdAt === message.createdAt && row.id > message.id);
