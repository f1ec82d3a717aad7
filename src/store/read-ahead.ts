/**
 * Cache reads taken ahead of the replica barrier, checked before they count. `syncCaches()` costs
 * a round trip on PostgreSQL; a caller that reads the caches and then writes can send the barrier
 * and its first statements together, and check before it commits that nothing another replica
 * committed before the barrier touched what it read (cache-epochs.ts tells). When something did,
 * the caller starts over behind a passed barrier. SQLite has no other writer: always current.
 */
import { epochKeys, scopeKey, type CacheEpochs } from './cache-epochs.js';
import type { ReplicaBarrier } from './replica-caches.js';
import type { PreludeStatement } from './sql/executor.js';
import { keyOf } from './conversations.js';
import type { Platform } from '../core/types.js';

/** What a caller read from the caches: the thread's conversation, its messages, a channel's settings. */
export interface CachedReads {
  readonly thread: { readonly platform: Platform; readonly workspaceId: string; readonly threadKey: string };
  readonly conversationId?: number | undefined;
  /** The conversation whose cached messages were read. */
  readonly messagesOf?: number | undefined;
  /** A channel whose effective settings were read (its workspace's settings with it). */
  readonly settingsOf?: { readonly platform: Platform; readonly workspaceId: string; readonly channelId: string } | undefined;
}

export interface ReadAhead {
  /** Waits for the barrier (sending it first if nothing did); true when no change it brought in touched `reads`. */
  current(reads: CachedReads): Promise<boolean>;
  /**
   * The barrier's statement, when it has not left yet, for the caller's transaction to send
   * ahead of its BEGIN in the same write (TransactionOptions.before): a write and a round trip
   * on the listening connection less. Taken once.
   */
  takeBarrier(): PreludeStatement | undefined;
}

export const ALWAYS_CURRENT: ReadAhead = { current: () => Promise.resolve(true), takeBarrier: () => undefined };

/** Reads started at epoch `since`, with the barrier `synced` on its way. */
export function readAhead(epochs: CacheEpochs, since: number, synced: Promise<void>): ReadAhead {
  return {
    async current(reads) {
      await synced;
      return keysOf(reads).every((key) => epochs.unchanged(key, since));
    },
    takeBarrier: () => undefined,
  };
}

/** Reads started at epoch `since`, with `barrier` still to send: by the caller's transaction, or by `current`. */
export function readAheadOfBarrier(epochs: CacheEpochs, since: number, barrier: ReplicaBarrier): ReadAhead {
  let synced: Promise<void> | undefined;
  let taken = false;
  return {
    async current(reads) {
      synced ??= barrier.sendHere();
      await synced;
      return keysOf(reads).every((key) => epochs.unchanged(key, since));
    },
    takeBarrier() {
      if (taken || synced !== undefined) return undefined;
      taken = true;
      return {
        sql: barrier.sql,
        params: barrier.params,
        sent: (result) => {
          synced ??= barrier.sentAs(result);
        },
      };
    },
  };
}

function keysOf(reads: CachedReads): string[] {
  const keys = [epochKeys.conversationThread(keyOf(reads.thread))];
  if (reads.conversationId !== undefined) keys.push(epochKeys.conversationId(reads.conversationId));
  if (reads.messagesOf !== undefined) keys.push(epochKeys.messages(reads.messagesOf));
  const settings = reads.settingsOf;
  if (settings !== undefined) {
    keys.push(epochKeys.settings(scopeKey(settings.platform, settings.workspaceId, '')), epochKeys.settings(scopeKey(settings.platform, settings.workspaceId, settings.channelId)));
  }
  return keys;
}
