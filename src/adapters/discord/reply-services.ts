/**
 * The sinks the core asks for without an inbound event (a mention left unanswered, a reply job
 * taken over from another replica, a regeneration) and the clean-up after a crash. They find the
 * conversation's channel through the client of the shard serving its guild when this replica holds
 * it, else through REST alone: posting needs no gateway session.
 */
import { ChannelType, DiscordAPIError, RESTJSONErrorCodes, type Client, type Message } from 'discord.js';
import type { PlatformServices, ThreadRef } from '../../core/types.js';
import { lazySink } from '../../core/lazy-sink.js';
import { ThreadlineError } from '../../errors.js';
import { removeStrayReplies } from './history.js';
import type { DiscordReplySink, SendTarget } from './outbound.js';

const THREAD_NAME_LIMIT = 90;

export interface ReplyServicesOptions {
  readonly clientFor: (thread: ThreadRef) => Client;
  /** The REST-only client (its channels' guilds are unknown to it). */
  readonly restClient: Client;
  readonly sinkFor: (target: SendTarget, replyTo: string | undefined, existing?: readonly Message[]) => () => DiscordReplySink;
  readonly botUserId: () => string;
}

export function replyServices(options: ReplyServicesOptions): Pick<PlatformServices, 'replaceSink' | 'replySink' | 'removeStrayReplies'> {
  const { clientFor, restClient, sinkFor, botUserId } = options;

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
   * Where a conversation's answers go: its thread; else the thread opened now on the channel
   * mention that started it (its answer opens it, and a restart or a takeover came first); else
   * the channel it started in (no permission to create threads: the first answer went there).
   */
  async function answerChannel(thread: ThreadRef) {
    return (await fetchChannel(thread, thread.threadKey)) ?? (await openThread(thread)) ?? parentChannel(thread);
  }

  async function openThread(thread: ThreadRef) {
    const parent = await parentChannel(thread);
    if (parent === null || !parent.isTextBased() || parent.isThread() || parent.isDMBased()) return null;
    try {
      const starter = await parent.messages.fetch(thread.threadKey);
      const name = starter.cleanContent.replace(/\s+/g, ' ').trim().slice(0, THREAD_NAME_LIMIT) || `Conversation with ${starter.author.username}`;
      return await starter.startThread({ name, autoArchiveDuration: 1440 });
    } catch {
      return null;
    }
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
      const channel = clientFor(thread).channels.cache.get(thread.threadKey);
      // Looked up once per answer: a missing thread is a 404 that every part would pay again.
      let lookup: ReturnType<typeof answerChannel> | undefined;
      const target: SendTarget = {
        send: async (payload) => {
          const resolved = channel ?? (await (lookup ??= answerChannel(thread)));
          if (resolved === null || !resolved.isSendable()) throw new ThreadlineError('platform_forbidden', 'cannot post in that channel any more');
          // A thread's starter is the mention itself (a thread opened just now, say): no reply reference.
          if (resolved.isThread() && payload.reply !== undefined) return resolved.send({ ...payload, reply: undefined });
          return resolved.send(payload);
        },
        sendTyping: async () => {
          if (channel?.isSendable()) await channel.sendTyping();
        },
      };
      return sinkFor(target, channel?.type === ChannelType.PublicThread || channel?.type === ChannelType.PrivateThread ? undefined : messageId)();
    },
    async removeStrayReplies(thread, messageId, keep) {
      const threadChannel = await fetchChannel(thread, thread.threadKey);
      if (threadChannel !== null) return threadChannel.isTextBased() ? removeStrayReplies(threadChannel as never, messageId, botUserId(), keep) : 0;
      // No thread: the answer went to the channel, where other conversations' answers stand too.
      const parent = await parentChannel(thread);
      return parent !== null && parent.isTextBased() ? removeStrayReplies(parent as never, messageId, botUserId(), keep, { repliesTo: messageId }) : 0;
    },
  };
}
