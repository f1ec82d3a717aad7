/**
 * Messages a history read stored before their own create event was taken in. A message posted
 * while the bot reads a thread's history is in that history, and its create event, queued
 * behind the read, then finds it stored: that is its first delivery, not a duplicate, so a
 * mention among them is still answered. Kept in memory, bounded and short-lived: the create
 * follows the read within seconds.
 */
import { LRUCache } from 'lru-cache';

const MAX_REMEMBERED = 10_000;
const REMEMBER_MS = 10 * 60 * 1000;

export class BackfilledMessages {
  private readonly awaiting = new LRUCache<string, true>({ max: MAX_REMEMBERED, ttl: REMEMBER_MS });

  add(conversationId: number, platformMessageId: string): void {
    this.awaiting.set(`${conversationId}:${platformMessageId}`, true);
  }

  /** True (once) when the history read stored this message and its create had not come yet. */
  take(conversationId: number, platformMessageId: string): boolean {
    return this.awaiting.delete(`${conversationId}:${platformMessageId}`);
  }
}
