/**
 * Reading a thread from REST: once when the bot first joins a thread (backfill, paged up to a
 * limit, with the starter message from the parent channel), at every new session (start or
 * lost session: catch-up with `after=` the newest stored message, and the channels people wrote
 * in from the answer window on, for new mentions), and after a crash (an answer posted but never
 * recorded). No reply reads history otherwise.
 */
import { DiscordAPIError, PermissionFlagsBits, RESTJSONErrorCodes, SnowflakeUtil, type Client, type Collection, type Message, type TextBasedChannel, type ThreadChannel } from 'discord.js';
import type { Logger } from 'pino';
import type { ChatCore, InboundMessage, ThreadRef } from '../../core/types.js';
import type { CatchUpProgress } from './catch-up-gate.js';
import { mentionsBot, toInbound, type BotIdentity } from './inbound.js';
import type { ScheduledRequest } from './rest-budget.js';

const PAGE = 100;
/**
 * Channels read back for mentions beyond those the bot answers in, at most, newest first: each
 * costs a REST read from the budget every reply shares, at every new session.
 */
export const MAX_ACTIVE_CHANNELS = 50;

/** Snowflakes order exactly; millisecond timestamps can tie. Oldest first. */
function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Messages in the order they were posted. */
export function bySnowflake(a: Message, b: Message): number {
  return compareSnowflakes(a.id, b.id);
}

type Fetchable = TextBasedChannel & { messages: { fetch(options: { limit: number; before?: string; after?: string; cache?: boolean }): Promise<Collection<string, Message>> } };

/** The thread's messages, oldest first, at most `limit`, including the starter message of a thread. */
export async function backfillThread(channel: Fetchable, thread: ThreadRef, bot: BotIdentity, limit: number, scheduled: ScheduledRequest): Promise<InboundMessage[]> {
  const collected: Message[] = [];
  let before: string | undefined;
  while (collected.length < limit) {
    const page = await scheduled(() => channel.messages.fetch({ limit: Math.min(PAGE, limit - collected.length), ...(before === undefined ? {} : { before }), cache: false }));
    if (page.size === 0) break;
    collected.push(...page.values());
    before = page.lastKey();
    if (page.size < PAGE) break;
  }
  if (channel.isThread() && collected.length < limit) {
    // Scheduled like the pages; its route is shared with reads that do not ask, so it is counted
    // again when it comes back (rest-budget.ts): a slot too many, once per thread read.
    const starter = await scheduled(() => (channel as ThreadChannel).fetchStarterMessage()).catch(() => null);
    if (starter !== null && !collected.some((message) => message.id === starter.id)) collected.push(starter);
  }
  return collected
    .filter((message) => message.content !== '' || message.attachments.size > 0)
    .sort(bySnowflake)
    .map((message) => toInbound(message, thread, bot));
}

export interface CatchUpOptions {
  readonly fetchChannel: (id: string) => Promise<Fetchable | null>;
  /** Threads active since then are read back (and their channels, for new mentions: see readBackChannels). */
  readonly activeSince: number;
  /**
   * Messages from then on go through the live path (`replay`), so a mention or follow-up sent
   * while the bot was away is answered; older ones are only recorded.
   */
  readonly answerSince: number;
  readonly replay: (message: Message) => void;
  /**
   * Channels and threads of the session's guilds whose newest message is from the answer window
   * (as the new session's GUILD_CREATE tells it): read back for mentions too, so a first mention
   * in a channel the bot never answered in is found (see activeChannelsOf). Taken at READY, before
   * live messages move the channels' newest ids.
   */
  readonly activeChannels?: readonly string[];
  /** Only these conversations (a shard's guilds); default: all. */
  readonly includes?: (thread: ThreadRef) => boolean;
  /** Told which threads are read back and when each is handed over (catch-up-gate.ts: live messages wait for it). */
  readonly progress?: CatchUpProgress;
  /** Discord counts reads against the same 50 requests a second as writes (rest-budget.ts). */
  readonly scheduled: ScheduledRequest;
}

/** Reads back what was said in recently active threads while there was no session. */
export async function catchUp(core: ChatCore, bot: BotIdentity, logger: Logger, options: CatchUpOptions): Promise<number> {
  try {
    return await readBack(core, bot, logger, options);
  } finally {
    options.progress?.finished();
  }
}

async function readBack(core: ChatCore, bot: BotIdentity, logger: Logger, options: CatchUpOptions): Promise<number> {
  let recorded = 0;
  const known = (await core.recentThreads('discord', options.activeSince)).filter(({ thread }) => options.includes === undefined || options.includes(thread));
  // A conversation with nothing stored from others (forgotten, say) has nowhere to read on from.
  const threads = known.flatMap(({ thread, lastMessageId }) => (lastMessageId === null ? [] : [{ thread, lastMessageId }]));
  options.progress?.listed(threads.map(({ thread }) => thread.threadKey));
  for (const { thread, lastMessageId } of threads) {
    try {
      const channel = await options.fetchChannel(thread.threadKey);
      if (channel === null) continue;
      let after = lastMessageId;
      for (;;) {
        const page = await options.scheduled(() => channel.messages.fetch({ limit: PAGE, after, cache: false }));
        if (page.size === 0) break;
        const messages = [...page.values()].sort(bySnowflake);
        const old = messages.filter((message) => message.createdTimestamp < options.answerSince);
        await core.ingest(old.map((message) => toInbound(message, thread, bot)));
        // In order: the core keeps each thread's messages in the order they are handed over.
        for (const message of messages.slice(old.length)) options.replay(message);
        recorded += messages.length;
        after = (messages[messages.length - 1] as Message).id;
        if (page.size < PAGE) break;
      }
    } catch (error) {
      // A channel mention's thread not opened yet (its answer opens it), or deleted: nothing to read.
      if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownChannel) continue;
      logger.warn({ err: error, thread: thread.threadKey }, 'could not catch up a thread');
    } finally {
      options.progress?.caughtUp(thread.threadKey);
    }
  }
  const mentions = await readBackChannels(known.map(({ thread }) => thread), bot, logger, options);
  if (recorded + mentions > 0) logger.info({ recorded, channelMentions: mentions }, 'caught up messages missed while away');
  return recorded + mentions;
}

/**
 * A mention in a channel starts a conversation of its own, so no thread read back holds one
 * posted while there was no session. The channels the bot takes part in, and those where anyone
 * wrote since the answer window began (`activeChannels`; threads the bot does not know among
 * them), are read from the answer window on, and each mention from a person goes through the live
 * path: a new one is answered in its new thread, one taken in before is a duplicate to the core.
 */
async function readBackChannels(known: readonly ThreadRef[], bot: BotIdentity, logger: Logger, options: CatchUpOptions): Promise<number> {
  // A mention that started a conversation still known is never taken in again (one forgotten since would be answered anew).
  const started = new Set(known.map((thread) => thread.threadKey));
  // The channels the bot's threads are in (a DM is its own thread: none).
  const channelIds = new Set(known.filter((thread) => thread.channelId !== thread.threadKey).map((thread) => thread.channelId));
  // Known threads were read back whole already.
  for (const id of options.activeChannels ?? []) if (!started.has(id)) channelIds.add(id);
  let replayed = 0;
  const since = SnowflakeUtil.generate({ timestamp: options.answerSince }).toString();
  for (const channelId of channelIds) {
    try {
      const channel = await options.fetchChannel(channelId);
      if (channel === null) continue;
      for (let after = since; ; ) {
        const page = await options.scheduled(() => channel.messages.fetch({ limit: PAGE, after, cache: false }));
        const messages = [...page.values()].sort(bySnowflake);
        for (const message of messages) {
          if (message.author.bot || started.has(message.id) || !mentionsBot(message, bot)) continue;
          options.replay(message);
          replayed += 1;
        }
        if (page.size < PAGE) break;
        after = (messages[messages.length - 1] as Message).id;
      }
    } catch (error) {
      logger.warn({ err: error, channel: channelId }, 'could not read back mentions in a channel');
    }
  }
  return replayed;
}

/**
 * Deletes the bot's messages after `afterId` in the channel that the store does not know (`keep`):
 * an answer a crashed run posted, in full or in part, before it could record it. In a channel
 * shared with other conversations, only messages replying to `repliesTo` are this one's.
 */
export async function removeStrayReplies(
  channel: Fetchable & { messages: { delete(id: string): Promise<void> } },
  afterId: string,
  botId: string,
  keep: ReadonlySet<string>,
  only: { readonly repliesTo?: string } = {},
  scheduled: ScheduledRequest,
): Promise<number> {
  const later = await scheduled(() => channel.messages.fetch({ limit: PAGE, after: afterId, cache: false }));
  const strays = [...later.values()].filter(
    (message) => message.author.id === botId && !keep.has(message.id) && (only.repliesTo === undefined || message.reference?.messageId === only.repliesTo),
  );
  for (const stray of strays) await channel.messages.delete(stray.id);
  return strays.length;
}

/**
 * The text channels and threads of `client`'s guilds whose newest message is not older than
 * `since` and that the bot may read, newest first, at most MAX_ACTIVE_CHANNELS (more are logged).
 */
export function activeChannelsOf(client: Client, since: number, logger: Logger): string[] {
  const active: Array<{ id: string; newest: string }> = [];
  for (const guild of client.guilds.cache.values()) {
    for (const channel of guild.channels.cache.values()) {
      if (!channel.isTextBased() || channel.lastMessageId === null || channel.lastMessageId === undefined) continue;
      if (SnowflakeUtil.timestampFrom(channel.lastMessageId) < since) continue;
      // Unknown (its member not cached): tried; a refusal is logged like any failed read.
      const permissions = client.user === null ? null : channel.permissionsFor(client.user);
      if (permissions !== null && !permissions.has([PermissionFlagsBits.ViewChannel, PermissionFlagsBits.ReadMessageHistory])) continue;
      active.push({ id: channel.id, newest: channel.lastMessageId });
    }
  }
  active.sort((a, b) => compareSnowflakes(b.newest, a.newest));
  if (active.length > MAX_ACTIVE_CHANNELS) logger.warn({ active: active.length, read: MAX_ACTIVE_CHANNELS }, 'more channels were active while away than a new session reads back for mentions: reading the newest');
  return active.slice(0, MAX_ACTIVE_CHANNELS).map((channel) => channel.id);
}
