/**
 * The Discord adapter: connects discord.js (REST base from DISCORD_API_URL, so the gateway
 * follows), turns events into core calls and core replies into messages. Decisions about
 * answering, history and errors are the core's. It runs the gateway shards this replica holds
 * (`shards`, from main.ts: split among replicas through the database), one client each
 * (shard-clients.ts), and posts through REST wherever the conversation is.
 */
import { Client, ClientUser, Events, Routes, type APIGatewayBotInfo, type APIUser, type Message, type PartialMessage } from 'discord.js';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ChatCore, InboundContext, ReplySink, ThreadRef } from '../../core/types.js';
import { ThreadlineError } from '../../errors.js';
import type { Health } from '../../http/health.js';
import { discordAttachmentServices } from './attachment-urls.js';
import { handleButton } from './buttons.js';
import { handleAutocomplete, handleCommand, registerCommands } from './commands.js';
import { activeChannelsOf, backfillThread, catchUp } from './history.js';
import { mentionsBot, renderText, threadFromChannelMessage, threadOf, toAttachmentInput, toInbound, type BotIdentity } from './inbound.js';
import { DiscordReplySink, type SendTarget } from './outbound.js';
import { SeenThreads } from './seen-threads.js';
import { CatchUpGate, type CatchUpProgress } from './catch-up-gate.js';
import { WriteScheduler, type WriteBudget } from '../../core/concurrency/write-scheduler.js';
import { AllShards, type ShardAssignment } from '../../core/shards/shard-assignment.js';
import { createClient, shardOfGuild, ShardClients } from './shard-clients.js';
import { IDENTIFY_SPACING_MS, IdentifyGate } from './identify-gate.js';
import { replyServices } from './reply-services.js';
import { lazySink } from '../../core/lazy-sink.js';
import { nowhereSink, openThread, reportOpening, threadName, type ThreadOpening } from './open-thread.js';
import { watchRestBudget, type RestEvents, type ScheduledRequest } from './rest-budget.js';

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
  /** Which gateway shards this replica runs (main.ts: the store's locks); default: all of them. Stopped with the adapter. */
  readonly shards?: ShardAssignment;
}

/**
 * Discord allows a bot 50 requests per second in all (discord.js enforces it too, in windows that
 * start at a send). The scheduler counts a write until a window after it came back, and Discord
 * counted it before that, on arrival: a write let through once the window has passed arrives
 * more than a second after the one whose slot it takes, so a plain second is safe.
 */
const DISCORD_GLOBAL_BUDGET: WriteBudget = { key: 'discord:global', limit: 50, windowMs: 1000 };

export interface DiscordAdapter {
  /** The gateway client of the lowest shard held (with one shard, the only one); a REST-only client while none is held. */
  readonly client: Client;
  start(): Promise<void>;
  /** Stops taking events; replies in flight can still post. */
  stop(): Promise<void>;
  /** Closes the connection; nothing can post afterwards. */
  close(): Promise<void>;
}

const CATCH_UP_WINDOW_MS = 24 * 60 * 60 * 1000;
const DEFAULT_ANSWER_MISSED_WITHIN_MS = 30 * 60 * 1000;

export function createDiscordAdapter(options: DiscordAdapterOptions): DiscordAdapter {
  const { config, core, health } = options;
  const logger = options.logger.child({ adapter: 'discord' });
  const assignment: ShardAssignment = options.shards ?? new AllShards();
  /** Posts and reads where no shard of ours has the conversation's guild (never logs into the gateway). */
  const restClient = createClient(config.apiUrl);
  restClient.rest.setToken(config.token);
  let botUserId = '';
  let phase: 'starting' | 'running' | 'stopped' = 'starting';
  const shards = new ShardClients({
    token: config.token,
    apiUrl: config.apiUrl,
    logger,
    wire: (client, shard) => wire(client, shard),
    changed: () => {
      if (phase === 'running') health.set('discord', shards.state());
    },
  });

  const bot: BotIdentity = {
    get userId() {
      return botUserId;
    },
    roleIdIn(guildId) {
      if (guildId === null) return undefined;
      return shards.forGuild(guildId)?.guilds.cache.get(guildId)?.members.me?.roles.botRole?.id;
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

  async function onMessage(message: Message, seenThreads: SeenThreads): Promise<void> {
    if (message.author.id === (message.client.user?.id ?? bot.userId)) return;
    const thread = threadOf(message);
    const target: SendTarget | undefined = message.channel.isSendable() ? message.channel : undefined;
    if (thread === undefined) {
      if (target !== undefined) await onChannelMention(message, target);
      return;
    }
    let fetchHistory: InboundContext['fetchHistory'];
    if (message.channel.isThread()) {
      const channel = message.channel;
      // A thread the bot watched from its creation is in discord.js's cache: no REST read.
      fetchHistory = async () => seenThreads.history(channel, thread, bot) ?? backfillThread(channel, thread, bot, config.historyLimit, scheduled);
    }
    if (target === undefined) return;
    await core.handle(toInbound(message, thread, bot), { sink: sinkFor(target, message.id), ...(fetchHistory === undefined ? {} : { fetchHistory }) });
  }

  /** A plain channel: only a mention from a person starts a conversation, in a new thread on that message. */
  async function onChannelMention(message: Message, channel: SendTarget): Promise<void> {
    if (message.author.bot || !mentionsBot(message, bot)) return;
    const inbound = toInbound(message, threadFromChannelMessage(message), bot);
    // Where /settings turns the bot off (or the author lacks the roles), the short refusal goes in the channel: no thread.
    if (!(await core.answersAllowed(inbound))) {
      await core.handle(inbound, { sink: sinkFor(channel, message.id) });
      return;
    }
    // Taken in before its thread is opened (the answer's first write opens it): a follow-up
    // posted in the new thread while Discord creates it must come after this mention.
    // Once, however many sinks the core asks for.
    let opening: Promise<ThreadOpening> | undefined;
    const makeSink = async (): Promise<ReplySink> => {
      const where = await (opening ??= openThread(message, threadName(renderText(message, bot), message.author.username), () => message.client.channels.fetch(message.id), scheduled));
      reportOpening(where, logger, { channel: message.channelId, message: message.id });
      if (where.kind === 'thread') return sinkFor(where.thread, undefined)(); // its starter is the mention: no reply reference
      return where.kind === 'channel' ? sinkFor(channel, message.id)() : nowhereSink();
    };
    await core.handle(inbound, { sink: () => lazySink(makeSink) });
  }

  function refOfStored(message: Message | PartialMessage): ThreadRef {
    return threadOf(message as Message) ?? threadFromChannelMessage(message as Message);
  }

  watchRestBudget(restClient.rest as RestEvents, scheduler, writeBudget, logger);
  const scheduled: ScheduledRequest = async <T>(request: () => Promise<T>) => (await scheduler.run('first', request)) as T;

  let registration: Promise<void> | undefined;
  /** Slash commands, once per process (any replica may: the PUT replaces the same set). */
  const registerOnce = (client: Client) => (registration ??= registerCommands(client.rest, client.application?.id ?? botUserId, config.guildId, logger));

  /** The handlers of one shard's client. */
  function wire(client: Client, shard: number): void {
    const seenThreads = new SeenThreads();
    // A live message of a thread the new session's catch-up still reads back comes after what it missed.
    const catchingUp = new CatchUpGate();
    client.on(Events.ThreadCreate, (thread, newlyCreated) => seenThreads.created(thread, newlyCreated));
    client.on(Events.ThreadDelete, (thread) => seenThreads.forget(thread.id));
    client.on(Events.MessageCreate, (message) => {
      seenThreads.messageCreated(message);
      catchingUp.pass(message.channelId, () => void onMessage(message, seenThreads).catch((error: unknown) => logger.error({ err: error, message: message.id }, 'failed to handle a message')));
    });

    client.on(Events.MessageUpdate, (_old, updated) => {
      void (async () => {
        const message = updated.partial ? await updated.fetch() : updated;
        if (message.author.id === bot.userId) return;
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

    // A session lost: a RESUME replays what was missed, in order, and ends the wait; a fresh
    // session's catch-up takes it over, so live messages before its READY wait for it too.
    let lost: CatchUpProgress | undefined;
    client.on(Events.ShardReconnecting, () => (lost ??= catchingUp.begin()));
    client.on(Events.ShardResume, () => {
      lost?.finished();
      lost = undefined;
    });
    client.on(Events.ShardReady, () => {
      const progress = lost ?? catchingUp.begin();
      lost = undefined;
      seenThreads.newSession();
      if (phase === 'running') void registerOnce(client);
      // READY means a fresh session (a start, a shard taken over, or a session Discord would not
      // resume): whatever was said in this shard's guilds meanwhile was never delivered, so read it back.
      const now = Date.now();
      const answerSince = now - (options.answerMissedWithinMs ?? DEFAULT_ANSWER_MISSED_WITHIN_MS);
      void catchUp(core, bot, logger, {
        fetchChannel: (id) => client.channels.fetch(id).then((c) => (c !== null && c.isTextBased() ? (c as never) : null)),
        activeSince: now - CATCH_UP_WINDOW_MS,
        answerSince,
        activeChannels: activeChannelsOf(client, answerSince, logger),
        includes: (thread) => shardOfGuild(guildOf(thread), shards.count) === shard,
        progress,
        scheduled,
        replay: (message) => void onMessage(message, seenThreads).catch((error: unknown) => logger.error({ err: error, message: message.id }, 'failed to handle a missed message')),
      });
    });
    client.on(Events.Error, (error) => logger.error({ err: error, shard }, 'discord client error'));
    watchRestBudget(client.rest as RestEvents, scheduler, writeBudget, logger);
  }

  core.registerPlatform('discord', {
    ...discordAttachmentServices(restClient.rest as never, logger),
    ...replyServices({ clientFor, restClient, sinkFor, bot, logger, scheduled }),
  });

  /** The client that serves a conversation: its shard's, when held here, else REST only. */
  function clientFor(thread: ThreadRef): Client {
    return shards.forGuild(guildOf(thread)) ?? restClient;
  }

  return {
    get client() {
      return shards.all()[0] ?? restClient;
    },
    async start() {
      health.set('discord', 'connecting');
      let count: number;
      try {
        const me = (await restClient.rest.get(Routes.user())) as APIUser;
        botUserId = me.id;
        // What READY would set: discord.js looks its own user up when it builds and edits messages.
        restClient.user = new (ClientUser as unknown as new (client: Client, data: APIUser) => ClientUser)(restClient, me);
        const gateway = (await restClient.rest.get(Routes.gatewayBot())) as APIGatewayBotInfo;
        count = config.shardCount === 'auto' ? gateway.shards : config.shardCount;
        shards.identifyGate = new IdentifyGate(
          gateway.session_start_limit.max_concurrency,
          IDENTIFY_SPACING_MS,
          Date.now,
          assignment.identifyTurn?.bind(assignment),
          (error) => logger.warn({ err: error }, 'could not take an IDENTIFY turn through the database; identifying anyway'),
        );
      } catch (error) {
        throw new ThreadlineError('config_invalid', `Discord login failed (check DISCORD_TOKEN): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      shards.count = count;
      await assignment.start(count, shards);
      phase = 'running';
      health.set('discord', shards.state());
      const first = shards.all()[0];
      logger.info({ user: first?.user?.tag ?? botUserId, shardCount: count, guilds: shards.all().reduce((sum, client) => sum + client.guilds.cache.size, 0), state: shards.state() }, 'connected to Discord');
      if (first !== undefined) await registerOnce(first);
      void core.resumePending('discord');
    },
    async stop() {
      phase = 'stopped';
      health.set('discord', 'off');
      // Gives the shards back at once (another replica takes them over); answers in flight still post.
      await assignment.close();
    },
    async close() {
      // Also drops the REST token: only once the replies in flight are done.
      await shards.destroyAll();
      await restClient.destroy();
    },
  };
}

/** A conversation's guild id, or null for a DM (whose workspace is 'dm'): what shard routing takes. */
function guildOf(thread: ThreadRef): string | null {
  return thread.workspaceId === 'dm' ? null : thread.workspaceId;
}
