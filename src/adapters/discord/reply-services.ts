/**
 * The sinks the core asks for without an inbound event (a mention left unanswered, a reply job
 * taken over from another replica, a regeneration) and the clean-up after a crash. They find the
 * conversation's channel through the client of the shard serving its guild when this replica holds
 * it, else through REST alone: posting needs no gateway session.
 */
import { DiscordAPIError, RESTJSONErrorCodes, type Channel, type Client, type Message } from 'discord.js';
import type { Logger } from 'pino';
import type { PlatformServices, ThreadRef } from '../../core/types.js';
import { lazySink } from '../../core/lazy-sink.js';
import { ThreadlineError } from '../../errors.js';
import { removeStrayReplies } from './history.js';
import type { ScheduledRequest } from './rest-budget.js';
import { renderText, type BotIdentity } from './inbound.js';
import { nowhereSink, openThread, reportOpening, threadName, type ThreadOpening } from './open-thread.js';
import type { DiscordReplySink, SendTarget } from './outbound.js';

export interface ReplyServicesOptions {
  readonly clientFor: (thread: ThreadRef) => Client;
  /** The REST-only client (its channels' guilds are unknown to it). */
  readonly restClient: Client;
  readonly sinkFor: (target: SendTarget, replyTo: string | undefined, existing?: readonly Message[]) => () => DiscordReplySink;
  readonly bot: BotIdentity;
  readonly logger: Logger;
  readonly scheduled: ScheduledRequest;
}

export function replyServices(options: ReplyServicesOptions): Pick<PlatformServices, 'replaceSink' | 'replySink' | 'removeStrayReplies'> {
  const { clientFor, restClient, sinkFor, bot, logger, scheduled } = options;

  /** The channel, or null when Discord says there is no such channel (other failures are thrown). */
  async function fetchChannel(thread: ThreadRef, id: string) {
    const client = clientFor(thread);
    try {
      if (client !== restClient) return await client.channels.fetch(id);
      // Without a gateway session the guild is unknown; its channels still post and read. Kept
      // in the cache, where the messages posted in them look their channel up to edit.
      const channel = await client.channels.fetch(id, { allowUnknownGuild: true });
      if (channel !== null) client.channels.cache.set(channel.id, channel);
      return channel;
    } catch (error) {
      if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownChannel) return null;
      throw error;
    }
  }

  /**
   * Where a conversation's answers are: its thread, or the channel it started in when that thread
   * was never opened (no permission to create threads: the first answer went to the channel).
   */
  async function answerChannel(thread: ThreadRef) {
    return (await fetchChannel(thread, thread.threadKey)) ?? parentChannel(thread);
  }

  /**
   * Where a new answer goes: as `answerChannel`, but a channel mention's thread that was never
   * opened (the mention's replica stopped before its answer's first write) is opened now; `gone`
   * when the mention is deleted (there is nothing to answer).
   */
  async function replyChannel(thread: ThreadRef): Promise<Channel | null | 'gone'> {
    const existing = await fetchChannel(thread, thread.threadKey);
    if (existing !== null) return existing;
    const parent = await parentChannel(thread);
    if (parent === null || !parent.isTextBased() || parent.isThread() || parent.isDMBased()) return parent;
    const starter = await parent.messages.fetch(thread.threadKey).catch((error: unknown) => {
      if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownMessage) return null;
      throw error;
    });
    const where: ThreadOpening =
      starter === null ? { kind: 'gone' } : await openThread(starter, threadName(renderText(starter, bot), starter.author.username), () => fetchChannel(thread, thread.threadKey), scheduled);
    reportOpening(where, logger, { channel: thread.channelId, message: thread.threadKey });
    return where.kind === 'thread' ? where.thread : where.kind === 'channel' ? parent : 'gone';
  }

  /** The channel a conversation started in, when that is not the conversation itself (a DM is). */
  async function parentChannel(thread: ThreadRef) {
    return thread.channelId === thread.threadKey ? null : fetchChannel(thread, thread.channelId);
  }

  return {
    replaceSink(thread, messageId, postedIds) {
      return lazySink(async () => {
        const channel = await answerChannel(thread);
        if (channel === null || !channel.isSendable()) throw new ThreadlineError('platform_forbidden', 'cannot post in that channel any more');
        const existing: Message[] = [];
        for (const id of postedIds) {
          // A part deleted meanwhile is simply posted again.
          const message = await channel.messages.fetch(id).catch(() => undefined);
          if (message !== undefined) existing.push(message);
        }
        return sinkFor(channel, channel.isThread() ? undefined : messageId, existing)();
      });
    },
    replySink(thread, messageId) {
      const cached = clientFor(thread).channels.cache.get(thread.threadKey);
      if (cached?.isSendable()) return sinkFor(cached, cached.isThread() ? undefined : messageId)();
      // Looked up when the answer starts, once: a missing thread is a 404 that every part would pay again.
      return lazySink(async () => {
        const channel = await replyChannel(thread);
        if (channel === 'gone') return nowhereSink();
        if (channel === null || !channel.isSendable()) throw new ThreadlineError('platform_forbidden', 'cannot post in that channel any more');
        // In a thread, no reply reference: the question is in it, or is its starter, in the parent channel.
        return sinkFor(channel, channel.isThread() ? undefined : messageId)();
      });
    },
    async removeStrayReplies(thread, messageId, keep) {
      const threadChannel = await fetchChannel(thread, thread.threadKey);
      if (threadChannel !== null) return threadChannel.isTextBased() ? removeStrayReplies(threadChannel as never, messageId, bot.userId, keep, {}, scheduled) : 0;
      // No thread: the answer went to the channel, where other conversations' answers stand too.
      const parent = await parentChannel(thread);
      return parent !== null && parent.isTextBased() ? removeStrayReplies(parent as never, messageId, bot.userId, keep, { repliesTo: messageId }, scheduled) : 0;
    },
  };
}
