/**
 * Threads whose whole life the bot watched: created while this gateway session was up
 * (THREAD_CREATE with `newly_created`), every message since delivered to it. The first mention
 * in such a thread needs no history read from REST; discord.js's message cache already holds the
 * thread, as long as it has not evicted any of it. A fresh session (READY: events may have been
 * missed) forgets them all; a RESUME replays what was missed, so it keeps them.
 */
import { SnowflakeUtil, type Message, type ThreadChannel } from 'discord.js';
import type { InboundMessage, ThreadRef } from '../../core/types.js';
import { toInbound, type BotIdentity } from './inbound.js';
import { bySnowflake } from './history.js';

/** discord.js keeps this many messages per channel by default (Options.DefaultMakeCacheSettings). */
const MESSAGE_CACHE_SIZE = 200;

export class SeenThreads {
  private sessionStartedAt = Number.POSITIVE_INFINITY;
  /** Thread id → messages the gateway delivered in it. */
  private readonly seen = new Map<string, number>();

  newSession(now = Date.now()): void {
    this.sessionStartedAt = now;
    this.seen.clear();
  }

  created(thread: ThreadChannel, newlyCreated: boolean): void {
    if (newlyCreated) this.seen.set(thread.id, 0);
  }

  messageCreated(message: Pick<Message, 'channelId'>): void {
    const count = this.seen.get(message.channelId);
    if (count !== undefined) this.seen.set(message.channelId, count + 1);
  }

  /** The thread is gone (deleted, or the bot answered and the store keeps it now). */
  forget(threadId: string): void {
    this.seen.delete(threadId);
  }

  /**
   * The thread's earlier messages from the cache, oldest first, when the cache provably holds
   * all of them; `undefined` when only REST can tell.
   */
  history(channel: ThreadChannel, thread: ThreadRef, bot: BotIdentity): InboundMessage[] | undefined {
    const delivered = this.seen.get(channel.id);
    if (delivered === undefined || channel.messages.cache.size < delivered) return undefined;
    const messages = [...channel.messages.cache.values()];
    // A thread started from a message has that message's id: it was posted in the parent, and
    // seen there if it was posted during this session and the parent's cache still holds it.
    // (A forum post's starter is in the thread itself.)
    const parentCache = channel.parent !== null && 'messages' in channel.parent ? channel.parent.messages.cache : undefined;
    const starter = parentCache?.get(channel.id) ?? null;
    if (starter === null && parentCache !== undefined) {
      const threadIdTime = Number(SnowflakeUtil.timestampFrom(channel.id));
      const parentCacheFull = parentCache.size >= MESSAGE_CACHE_SIZE;
      if (threadIdTime < this.sessionStartedAt || parentCacheFull) return undefined;
    } else if (starter !== null) messages.push(starter);
    // From now on the store keeps this thread.
    this.seen.delete(channel.id);
    return messages
      .filter((message) => message.content !== '' || message.attachments.size > 0)
      .sort(bySnowflake)
      .map((message) => toInbound(message, thread, bot));
  }
}
