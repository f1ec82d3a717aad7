/**
 * The Slack adapter on Bolt: Socket Mode when an app token is set, otherwise HTTP (Events API
 * at /slack/events, with /healthz on the same server). Every Web API call, file downloads
 * included, goes to SLACK_API_URL. Events are acked at once; dedupe, ordering and the decision
 * to answer are the core's.
 */
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ChatCore } from '../../core/types.js';
import { ThreadlineError } from '../../errors.js';
import type { Health } from '../../http/health.js';
import { registerSlackCommands, SlackAdmins } from './commands.js';
import { slackFileServices } from './files.js';
import { backfillThread } from './history.js';
import { mentionsBot, threadRef, toAttachments, toInbound, type SlackIdentity, type SlackMessageLike } from './inbound.js';
import { decodeSlackText } from './mrkdwn-decode.js';
import { SlackReplySink } from './outbound.js';
import { SlackUserNames } from './users.js';

export interface SlackAdapterOptions {
  readonly config: NonNullable<Config['slack']>;
  readonly core: ChatCore;
  readonly logger: Logger;
  readonly health: Health;
  readonly port: number;
  readonly followUpWithoutMention: boolean;
  readonly spacingMs?: number;
}

export interface SlackAdapter {
  readonly app: App;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface MessageEvent extends SlackMessageLike {
  channel: string;
  channel_type?: string;
  message?: SlackMessageLike;
  previous_message?: SlackMessageLike;
  deleted_ts?: string;
}

const RECORDED_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast', 'bot_message']);

export function createSlackAdapter(options: SlackAdapterOptions): SlackAdapter {
  const { config, core, health } = options;
  const logger = options.logger.child({ adapter: 'slack' });
  const slackApiUrl = config.apiUrl === undefined ? undefined : config.apiUrl.endsWith('/') ? config.apiUrl : `${config.apiUrl}/`;
  const clientOptions = slackApiUrl === undefined ? {} : { slackApiUrl };
  const boltLogger = toBoltLogger(logger);
  const socketMode = config.appToken !== undefined;
  const receiver = socketMode
    ? new SocketModeReceiver({ appToken: config.appToken as string, logger: boltLogger, installerOptions: { clientOptions } })
    : new HTTPReceiver({
        signingSecret: config.signingSecret as string,
        endpoints: '/slack/events',
        logger: boltLogger,
        customRoutes: [{ path: '/healthz', method: ['GET'], handler: health.handle }],
      });
  const app = new App({ token: config.botToken, receiver, logger: boltLogger, clientOptions, ignoreSelf: true });

  const names = new SlackUserNames(app.client, logger);
  const nameOf = (id: string) => names.name(id);
  const admins = new SlackAdmins(app.client, config.adminUserIds, logger);
  let bot: SlackIdentity = { userId: '', botId: '' };
  let team = '';

  const sinkFor = (channel: string, message: SlackMessageLike, isDirect: boolean) => () =>
    new SlackReplySink({
      client: app.client,
      channel,
      threadTs: message.thread_ts ?? message.ts,
      messageTs: message.ts,
      teamId: message.team ?? team,
      userId: message.user ?? '',
      isDirect,
      logger,
      ...(options.spacingMs === undefined ? {} : { spacingMs: options.spacingMs }),
    });

  async function onMessage(event: MessageEvent, eventId: string | undefined, forceMention: boolean): Promise<void> {
    const isDirect = event.channel_type === 'im';
    // A top-level channel message is a conversation only when it mentions the bot.
    if (!isDirect && event.thread_ts === undefined && !forceMention && !mentionsBot(event.text, bot)) return;
    const workspace = event.team ?? team;
    const msg = await toInbound(event, { team: workspace, channel: event.channel, isDirect, forceMention, ...(eventId === undefined ? {} : { dedupeKeys: [`slack-event:${eventId}`] }) }, bot, nameOf);
    const threadTs = event.thread_ts ?? event.ts;
    await core.handle(msg, {
      sink: sinkFor(event.channel, event, isDirect),
      fetchHistory:
        event.thread_ts === undefined
          ? undefined
          : () => backfillThread(app.client, { team: workspace, channel: event.channel, threadTs, isDirect }, bot, nameOf, config.historyLimit),
    });
  }

  const run = (work: Promise<void>, what: string) => {
    work.catch((error: unknown) => logger.error({ err: error }, `failed to handle ${what}`));
  };

  app.event('app_mention', async ({ event, body }) => {
    run(onMessage(event as unknown as MessageEvent, (body as { event_id?: string }).event_id, true), 'a mention');
  });

  app.event('message', async ({ event, body }) => {
    const message = event as unknown as MessageEvent;
    const eventId = (body as { event_id?: string }).event_id;
    if (message.subtype === 'message_changed' && message.message !== undefined) {
      const changed = message.message;
      run(
        (async () => {
          const text = await decodeSlackText(changed.text ?? '', bot.userId, nameOf);
          core.recordEdit(threadRef(message.team ?? team, message.channel, changed), changed.ts, text, toAttachments(changed.files));
        })(),
        'an edit',
      );
      return;
    }
    if (message.subtype === 'message_deleted') {
      const deleted = message.previous_message ?? { ts: message.deleted_ts ?? '' };
      core.recordDelete(threadRef(message.team ?? team, message.channel, deleted), message.deleted_ts ?? deleted.ts);
      return;
    }
    if (!RECORDED_SUBTYPES.has(message.subtype)) return;
    run(onMessage(message, eventId, false), 'a message');
  });

  registerSlackCommands(app, { core, logger, admins });
  app.error(async (error) => {
    logger.error({ err: error }, 'Bolt error');
  });

  core.registerPlatform('slack', {
    ...slackFileServices(config.botToken, slackApiUrl),
    replySink(thread, messageId) {
      const [channel, threadTs] = thread.threadKey.split(':') as [string, string];
      return sinkFor(channel, { ts: messageId, thread_ts: threadTs }, channel.startsWith('D'))();
    },
  });

  if (socketMode) {
    const socket = (receiver as InstanceType<typeof SocketModeReceiver>).client;
    socket.on('connected', () => health.set('slack', 'ready'));
    socket.on('disconnected', () => health.set('slack', 'connecting'));
    socket.on('reconnecting', () => health.set('slack', 'connecting'));
  }

  return {
    app,
    async start() {
      health.set('slack', 'connecting');
      try {
        const auth = await app.client.auth.test();
        bot = { userId: String(auth.user_id), botId: String(auth.bot_id ?? '') };
        team = String(auth.team_id ?? '');
      } catch (error) {
        throw new ThreadlineError('config_invalid', `Slack rejected SLACK_BOT_TOKEN (auth.test failed): ${(error as { data?: { error?: string } }).data?.error ?? String(error)}`, { cause: error });
      }
      await (socketMode ? app.start() : app.start(options.port));
      if (!socketMode) health.set('slack', 'ready');
      logger.info({ mode: socketMode ? 'socket' : 'http', team, port: socketMode ? undefined : options.port }, 'connected to Slack');
      void core.resumePending('slack');
    },
    async stop() {
      health.set('slack', 'off');
      await app.stop();
    },
  };
}

/** Bolt's logger interface on top of pino (Bolt's debug chatter stays at debug). */
function toBoltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  const text = (parts: unknown[]) => parts.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(' ');
  return {
    debug: (...parts: unknown[]) => child.debug(text(parts)),
    info: (...parts: unknown[]) => child.info(text(parts)),
    warn: (...parts: unknown[]) => child.warn(text(parts)),
    error: (...parts: unknown[]) => child.error(text(parts)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
