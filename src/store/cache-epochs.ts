/**
 * Guards the caches against a race only replicas have: a row loaded by a query that was already
 * running when another replica's change to it was heard must not be cached, or the change would
 * be lost until the entry is evicted. A repository notes `start()` before it loads and caches the
 * result only while `unchanged(key, start)`; `changed` and `changedAll` are what the listener
 * heard. SQLite (one process, every write through this store) uses SINGLE_PROCESS, which never
 * refuses.
 */
import { LRUCache } from 'lru-cache';

/** Keys whose last change is remembered one by one; older changes count as one "evicted" time. */
const REMEMBERED_KEYS = 10_000;

export interface CacheEpochs {
  start(): number;
  /** True when neither `key` nor everything changed since `start()` returned `since`. */
  unchanged(key: string, since: number): boolean;
}

export const SINGLE_PROCESS: CacheEpochs = { start: () => 0, unchanged: () => true };

export class ReplicaEpochs implements CacheEpochs {
  private now = 0;
  private allChangedAt = 0;
  private evictedAt = 0;
  private readonly changedAt = new LRUCache<string, number>({
    max: REMEMBERED_KEYS,
    dispose: (at, _key, reason) => {
      if (reason === 'evict') this.evictedAt = Math.max(this.evictedAt, at);
    },
  });

  start(): number {
    return this.now;
  }

  unchanged(key: string, since: number): boolean {
    if (this.allChangedAt > since || this.evictedAt > since) return false;
    return (this.changedAt.get(key) ?? 0) <= since;
  }

  changed(key: string): void {
    this.now += 1;
    this.changedAt.set(key, this.now);
  }

  changedAll(): void {
    this.now += 1;
    this.allChangedAt = this.now;
  }
}

/** A channel's (or, with channel '', a workspace's) key: instructions and settings are cached by it. */
export const scopeKey = (platform: string, workspaceId: string, channelId: string) => `${platform}\u0000${workspaceId}\u0000${channelId}`;

/** The keys the repositories and the listener agree on. */
export const epochKeys = {
  messages: (conversationId: number) => `m:${conversationId}`,
  conversationId: (id: number) => `c#${id}`,
  conversationThread: (threadKey: string) => `c:${threadKey}`,
  instructions: (scope: string) => `i:${scope}`,
  settings: (scope: string) => `s:${scope}`,
};
