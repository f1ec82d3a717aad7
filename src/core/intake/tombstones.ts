/**
 * Changes that arrived before the message they change: a delete (or edit) of a message the core
 * has not taken in yet. Platforms do not promise order between a create and a quick delete (a
 * Slack retry, Discord's thread creation in between), so the change waits here for its create,
 * which then is recorded as deleted (never answered) or with the edited text. Kept in memory,
 * bounded and short-lived: the window in which a create can trail its own delete is seconds.
 */
import { LRUCache } from 'lru-cache';
import type { AttachmentInput, ThreadRef } from '../types.js';

export type EarlyChange =
  | { readonly kind: 'deleted'; readonly at: number }
  | { readonly kind: 'edited'; readonly at: number; readonly text: string; readonly attachments?: readonly AttachmentInput[] };

const MAX_TOMBSTONES = 10_000;
const TOMBSTONE_TTL_MS = 10 * 60 * 1000;

export class Tombstones {
  private readonly changes = new LRUCache<string, EarlyChange>({ max: MAX_TOMBSTONES, ttl: TOMBSTONE_TTL_MS });

  remember(thread: ThreadRef, messageId: string, change: EarlyChange): void {
    const key = keyOf(thread, messageId);
    // A delete wins over any edit; a later edit replaces an earlier one.
    if (this.changes.get(key)?.kind === 'deleted') return;
    this.changes.set(key, change);
  }

  /** The change waiting for this message, removed. */
  take(thread: ThreadRef, messageId: string): EarlyChange | undefined {
    const key = keyOf(thread, messageId);
    const change = this.changes.get(key);
    if (change !== undefined) this.changes.delete(key);
    return change;
  }

  peek(thread: ThreadRef, messageId: string): EarlyChange | undefined {
    return this.changes.get(keyOf(thread, messageId));
  }
}

function keyOf(thread: ThreadRef, messageId: string): string {
  return `${thread.platform}:${thread.workspaceId}:${thread.threadKey}:${messageId}`;
}
