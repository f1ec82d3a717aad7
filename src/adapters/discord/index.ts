/**
 * The Discord adapter: connects discord.js (REST base from DISCORD_API_URL, so the gateway
 * follows), turns events into core calls and core replies into messages. Decisions about
 * answering, history and errors are the core's.
 */
import { ChannelType, Client, DiscordAPIError, Events, GatewayIntentBits, Partials, RESTJSONErrorCodes, type Message, type PartialMessage } from 'discord.js';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ChatCore, InboundContext, ThreadRef } from '../../core/types.js';
import { ThreadlineError } from '../../errors.js';
import type { Health } from '../../http/health.js';
import { discordAttachmentServices } from './attachment-urls.js';
import { handleButton } from './buttons.js';
import { handleAutocomplete, handleCommand, registerCommands } from './commands.js';
import { backfillThread, catchUp, removeStrayReplies } from './history.js';
import { mentionsBot, renderText, threadFromChannelMessage, threadOf, toAttachmentInput, toInbound, type BotIdentity } from './inbound.js';
import { DiscordReplySink, type SendTarget } from './outbound.js';
import { lazySink } from '../../core/lazy-sink.js';
import { SeenThreads } from './seen-threads.js';
import { WriteScheduler, type WriteBudget } from '../../core/concurrency/write-scheduler.js';

export interface DiscordAdapterOptions {
  readonly config: NonNullable<Config['discord']>;
  readonly core: ChatCore;
  readonly logger: Logger;
  readonly health: Health;
  /** Streaming pace (tests shorten it). */
  readonly spacingMs?: number;
  /** Messages missed while away and younger than this are answered on return (PENDING_REPLY_MAX_AGE). */
  readonly answerMissedWithinMs?: number;
  /** The bot's write budget across all channels (default: Discord's 50 requests per second). */
  readonly writeBudget?: WriteBudget;
}

/**
 * Discord allows a bot 50 requests per second in all (discord.js enforces it too). The window is
 * a little longer than a second so that requests that left in one window cannot arrive in one.
 */
const DISCORD_GLOBAL_BUDGET: WriteBudget = { key: 'discord:global', limit: 50, windowMs: 1020 };

export interface DiscordAdapter {
  readonly client: Client;
  start(): Promise<void>;
  /** Stops taking events; replies in flight can still post. */
  stop(): Promise<void>;
  /** Closes the connection; nothing can post afterwards. */
  close(): Promise<void>;
}

const CATCH_UP_WINDOW_MS = 24 * 60 * 60 * 1000;
const DEFAULT_ANSWER_MISSED_WITHIN_MS = 30 * 60 * 1000;
const THREAD_NAME_LIMIT = 90;

export function createDiscordAdapter(options: DiscordAdapterOptions): DiscordAdapter {
  const { config, core, health } = options;
  const logger = options.logger.child({ adapter: 'discord' });
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel, Partials.Message],
    allowedMentions: { parse: [], repliedUser: false },
    ...(config.apiUrl === undefined ? {} : { rest: { api: config.apiUrl } }),
  });

  const bot: BotIdentity = {
    get userId() {
      return client.user?.id ?? '';
    },
    roleIdIn(guildId) {
      if (guildId === null) return undefined;
      return client.guilds.cache.get(guildId)?.members.me?.roles.botRole?.id;
    },
  };

  const writeBudget = options.writeBudget ?? DISCORD_GLOBAL_BUDGET;
  const scheduler = new WriteScheduler({ shared: writeBudget });
  const sinkFor = (target: SendTarget, replyTo: string | undefined, existing?: readonly Message[]) => () =>
    new DiscordReplySink({
      target,
      logger,
      scheduler,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(options.spacingMs === undefined ? {} : { spacingMs: options.spacingMs }),
      ...(existing === undefined ? {} : { existing }),
    });

  async function onMessage(message: Message): Promise<void> {
    if (client.user === null || message.author.id === client.user.id) return;
    let thread = threadOf(message);
    let target: SendTarget | undefined = message.channel.isSendable() ? message.channel : undefined;
    let replyTo: string | undefined = message.id;
    let fetchHistory: InboundContext['fetchHistory'];

    if (thread === undefined) {
      // A plain channel: only a mention from a person starts a conversation, in a new thread on that message.
      if (message.author.bot || !mentionsBot(message, bot)) return;
      thread = threadFromChannelMessage(message);
      // Where /settings turns the bot off (or the author lacks the roles), the short refusal goes in the channel: no thread.
      const inbound = toInbound(message, thread, bot);
      if (!(await core.answersAllowed(inbound))) {
        if (target !== undefined) await core.handle(inbound, { sink: sinkFor(target, message.id) });
        return;
      }
      try {
        const name = renderText(message, bot).slice(0, THREAD_NAME_LIMIT) || `Conversation with ${message.author.username}`;
        target = await message.startThread({ name, autoArchiveDuration: 1440 });
        replyTo = undefined; // the thread's starter is the mention itself
      } catch (error) {
        logger.warn({ err: error, channel: message.channelId }, 'could not open a thread; answering in the channel');
      }
    } else if (message.channel.isThread()) {
      const channel = message.channel;
      const ref = thread;
      // A thread the bot watched from its creation is in discord.js's cache: no REST read.
      fetchHistory = async () => seenThreads.history(channel, ref, bot) ?? backfillThread(channel, ref, bot, config.historyLimit);
    }
    if (target === undefined) return;
    const sendTarget = target;
    await core.handle(toInbound(message, thread, bot), { sink: sinkFor(sendTarget, replyTo), ...(fetchHistory === undefined ? {} : { fetchHistory }) });
  }

  function refOfStored(message: Message | PartialMessage): ThreadRef {
    return threadOf(message as Message) ?? threadFromChannelMessage(message as Message);
  }

  const seenThreads = new SeenThreads();
  client.on(Events.ThreadCreate, (thread, newlyCreated) => seenThreads.created(thread, newlyCreated));
  client.on(Events.ThreadDelete, (thread) => seenThreads.forget(thread.id));
  client.on(Events.MessageCreate, (message) => {
    seenThreads.messageCreated(message);
    onMessage(message).catch((error: unknown) => logger.error({ err: error, message: message.id }, 'failed to handle a message'));
  });

  client.on(Events.MessageUpdate, (_old, updated) => {
    void (async () => {
      const message = updated.partial ? await updated.fetch() : updated;
      if (message.author.id === client.user?.id) return;
      await core.recordEdit(refOfStored(message), message.id, renderText(message, bot), [...message.attachments.values()].map(toAttachmentInput));
    })().catch((error: unknown) => logger.warn({ err: error }, 'failed to record an edit'));
  });

  client.on(Events.MessageDelete, (message) => {
    // The core orders it after the message's own create, even one still being taken in.
    core.recordDelete(refOfStored(message), message.id).catch((error: unknown) => logger.warn({ err: error }, 'failed to record a deletion'));
  });

  client.on(Events.InteractionCreate, (interaction) => {
    if (interaction.isButton()) {
      handleButton(interaction, core, logger).catch((error: unknown) => logger.error({ err: error }, 'button press failed'));
      return;
    }
    if (interaction.isAutocomplete()) {
      handleAutocomplete(interaction, { core, logger }).catch((error: unknown) => logger.warn({ err: error }, 'autocomplete failed'));
      return;
    }
    if (!interaction.isChatInputCommand()) return;
    handleCommand(interaction, { core, logger }).catch((error: unknown) => logger.error({ err: error }, 'slash command failed'));
  });

  client.on(Events.ShardReady, () => {
    health.set('discord', 'ready');
    seenThreads.newSession();
    // READY means a fresh session (a start, or a session Discord would not resume): whatever was
    // said in the meantime was never delivered, so read it back.
    const now = Date.now();
    void catchUp(core, bot, logger, {
      fetchChannel: (id) => client.channels.fetch(id).then((c) => (c !== null && c.isTextBased() ? (c as never) : null)),
      activeSince: now - CATCH_UP_WINDOW_MS,
      answerSince: now - (options.answerMissedWithinMs ?? DEFAULT_ANSWER_MISSED_WITHIN_MS),
      replay: (message) => void onMessage(message).catch((error: unknown) => logger.error({ err: error, message: message.id }, 'failed to handle a missed message')),
    });
  });
  client.on(Events.ShardResume, () => health.set('discord', 'ready'));
  client.on(Events.ShardDisconnect, () => health.set('discord', 'connecting'));
  client.on(Events.ShardReconnecting, () => health.set('discord', 'connecting'));
  client.on(Events.Error, (error) => logger.error({ err: error }, 'discord client error'));
  client.rest.on('rateLimited', (info) => {
    logger.debug({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'Discord rate limit; waiting');
    // discord.js waits the route out itself; a global limit holds every answer's writes too.
    if (info.global) scheduler.hold(writeBudget.key, info.retryAfter);
  });

  core.registerPlatform('discord', {
    ...discordAttachmentServices(client.rest as never, logger),
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
      const channel = client.channels.cache.get(thread.threadKey);
      // Looked up once per answer: a missing thread is a 404 that every part would pay again.
      let lookup: ReturnType<typeof answerChannel> | undefined;
      const target: SendTarget = {
        send: async (payload) => {
          const resolved = channel ?? (await (lookup ??= answerChannel(thread)));
          if (resolved === null || !resolved.isSendable()) throw new ThreadlineError('platform_forbidden', 'cannot post in that channel any more');
          return resolved.send(payload);
        },
        sendTyping: async () => {
          if (channel?.isSendable()) await channel.sendTyping();
        },
      };
      return sinkFor(target, channel?.type === ChannelType.PublicThread || channel?.type === ChannelType.PrivateThread ? undefined : messageId)();
    },
    async removeStrayReplies(thread, messageId, keep) {
      const threadChannel = await fetchChannel(thread.threadKey);
      if (threadChannel !== null) return threadChannel.isTextBased() ? removeStrayReplies(threadChannel as never, messageId, bot.userId, keep) : 0;
      // No thread: the answer went to the channel, where other conversations' answers stand too.
      const parent = await parentChannel(thread);
      return parent !== null && parent.isTextBased() ? removeStrayReplies(parent as never, messageId, bot.userId, keep, { repliesTo: messageId }) : 0;
    },
  });

  /** The channel, or null when Discord says there is no such channel (other failures are thrown). */
  async function fetchChannel(id: string) {
    try {
      return await client.channels.fetch(id);
    } catch (error) {
      if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownChannel) return null;
      throw error;
    }
  }

  /**
   * Where a conversation's answers go: its thread, or the channel it started in when that thread
   * was never opened (no permission to create threads: the first answer went to the channel).
   */
  async function answerChannel(thread: ThreadRef) {
    return (await fetchChannel(thread.threadKey)) ?? parentChannel(thread);
  }

  /** The channel a conversation started in, when that is not the conversation itself (a DM is). */
  async function parentChannel(thread: ThreadRef) {
    return thread.channelId === thread.threadKey ? null : fetchChannel(thread.channelId);
  }

  return {
    client,
    async start() {
      health.set('discord', 'connecting');
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      try {
        await client.login(config.token);
      } catch (error) {
        throw new ThreadlineError('config_invalid', `Discord login failed (check DISCORD_TOKEN): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      await ready;
      logger.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'connected to Discord');
      const applicationId = client.application?.id ?? client.user?.id;
      if (applicationId !== undefined) await registerCommands(client.rest, applicationId, config.guildId, logger);
      void core.resumePending('discord');
    },
    async stop() {
      health.set('discord', 'off');
      for (const event of [Events.MessageCreate, Events.MessageUpdate, Events.MessageDelete, Events.InteractionCreate] as const) client.removeAllListeners(event);
    },
    async close() {
      // Also drops the REST token: only once the replies in flight are done.
      await client.destroy();
    },
  };
}
