/**
 * The Slack adapter on Bolt: Socket Mode when an app token is set, otherwise HTTP (Events API
 * at /slack/events, with /healthz on the same server). Every Web API call, file downloads
 * included, goes to SLACK_API_URL. Events are acked once stored (HTTP) or on receipt (Socket
 * Mode); dedupe, ordering and the decision to answer are the core's.
 */
import { App, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ChatCore, ThreadRef } from '../../core/types.js';
import { ThreadlineError } from '../../errors.js';
import type { Health } from '../../http/health.js';
import { registerAssistantPanel, titleAssistantThread } from './assistant.js';
import { toBoltLogger } from './bolt-logger.js';
import { registerAnswerButtons } from './buttons.js';
import { registerSlackCommands, SlackAdmins } from './commands.js';
import { slackFileServices } from './files.js';
import { backfillThread, removeStrayReplies } from './history.js';
import { mentionsBot, threadRef, toAttachments, toInbound, type SlackIdentity, type SlackMessageLike } from './inbound.js';
import { ThreadLanes } from './lanes.js';
import { decodeSlackText } from './mrkdwn-decode.js';
import { SlackReplySink } from './outbound.js';
import { WriteScheduler } from '../../core/concurrency/write-scheduler.js';
import { SlackUserNames } from './users.js';

export interface SlackAdapterOptions {
  readonly config: NonNullable<Config['slack']>;
  readonly core: ChatCore;
  readonly logger: Logger;
  readonly health: Health;
  readonly port: number;
  /** More GET routes on the HTTP receiver's port (`/metrics`); HTTP mode only. */
  readonly extraRoutes?: ReadonlyArray<{ readonly path: string; readonly handler: (req: IncomingMessage, res: ServerResponse) => void }>;
  readonly spacingMs?: number;
  /** Longest an HTTP ack waits for the event to be stored (default 2 s; Slack retries after 3 s). */
  readonly ackWaitMs?: number;
}

export interface SlackAdapter {
  readonly app: App;
  start(): Promise<void>;
  /** Stops receiving; resolves once every event already received has reached the core. */
  stop(): Promise<void>;
  /** Nothing to release once stopped: replies post over plain HTTPS. */
  close(): Promise<void>;
  /** Resolves once every event received so far is fully dealt with, answers included (tests). */
  idle(): Promise<void>;
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
  const apiBase = slackApiUrl === undefined ? {} : { slackApiUrl };
  // Bolt and the Socket Mode client each write into the options object they are given (the
  // socket client sets 100 retries for apps.connections.open), so each gets its own copy. Replies
  // give up on Slack within minutes, and no single call hangs forever (the default has no timeout).
  const clientOptions: webApi.WebClientOptions = { ...apiBase, retryConfig: webApi.retryPolicies.fiveRetriesInFiveMinutes, timeout: 30_000 };
  const boltLogger = toBoltLogger(logger);
  const socketMode = config.appToken !== undefined;
  const receiver = socketMode
    ? new SocketModeReceiver({ appToken: config.appToken as string, logger: boltLogger, installerOptions: { clientOptions: { ...apiBase } } })
    : new HTTPReceiver({
        signingSecret: config.signingSecret as string,
        endpoints: '/slack/events',
        // The ack goes out when the listener returns, which is once the message is stored.
        processBeforeResponse: true,
        logger: boltLogger,
        customRoutes: [
          { path: '/healthz', method: ['GET'], handler: health.handle },
          ...(options.extraRoutes ?? []).map((route) => ({ path: route.path, method: ['GET'], handler: route.handler })),
        ],
      });
  const app = new App({ token: config.botToken, receiver, logger: boltLogger, clientOptions, ignoreSelf: true });

  const names = new SlackUserNames(app.client, logger);
  const nameOf = (id: string) => names.name(id);
  const admins = new SlackAdmins(app.client, config.adminUserIds, logger);
  let bot: SlackIdentity = { userId: '', botId: '' };
  let team = '';

  // One budget for all answers: Slack's tiers are per workspace and method, and per channel.
  const scheduler = new WriteScheduler();
  const sinkFor = (channel: string, message: SlackMessageLike, isDirect: boolean, existing?: readonly string[]) => () =>
    new SlackReplySink({
      scheduler,
      ...(existing === undefined ? {} : { existing }),
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

  /** Events waiting for or inside the core, per thread, in delivery order. */
  const lanes = new ThreadLanes();
  const isOwn = (message: SlackMessageLike) => message.user === bot.userId || (message.bot_id !== undefined && message.bot_id === bot.botId);

  function onMessage(event: MessageEvent, eventId: string | undefined, forceMention: boolean, onAccepted: () => void): Promise<void> {
    const isDirect = event.channel_type === 'im';
    // A top-level channel message is a conversation only when it mentions the bot.
    if (!isDirect && event.thread_ts === undefined && !forceMention && !mentionsBot(event.text, bot)) return Promise.resolve();
    const workspace = event.team ?? team;
    const thread = threadRef(workspace, event.channel, event);
    const threadTs = event.thread_ts ?? event.ts;
    if (isDirect && event.thread_ts !== undefined && !isOwn(event)) titleAssistantThread(app.client, core, thread, decodeForTitle(event.text), logger);
    const where = { team: workspace, channel: event.channel, isDirect, forceMention, ...(eventId === undefined ? {} : { dedupeKeys: [`slack-event:${eventId}`] }) };
    return lanes.enqueue(
      thread.threadKey,
      () => toInbound(event, where, bot, nameOf),
      (msg) =>
        core.handle(msg, {
          onAccepted,
          sink: sinkFor(event.channel, event, isDirect),
          // A message outside a thread is the thread's first message: there is nothing earlier to read.
          fetchHistory:
            event.thread_ts === undefined
              ? undefined
              : () => backfillThread(app.client, { team: workspace, channel: event.channel, threadTs, isDirect }, bot, nameOf, config.historyLimit),
        }),
    );
  }

  /**
   * Edits and deletes go through the thread's lane, so they reach the core in delivery order
   * with the messages they change; the core orders them with those messages' intake.
   */
  function onChange(channel: string, target: SlackMessageLike, workspace: string, apply: (thread: ThreadRef, text: string) => Promise<void>, decode: boolean): Promise<void> {
    const thread = threadRef(workspace, channel, target);
    return lanes.enqueue(
      thread.threadKey,
      async () => (decode ? decodeSlackText(target.text ?? '', bot.userId, nameOf) : ''),
      (text) => apply(thread, text),
    );
  }

  const run = (work: Promise<void>, what: string) => {
    work.catch((error: unknown) => logger.error({ err: error }, `failed to handle ${what}`));
  };

  /**
   * Hands a message to the core and returns once it is stored (or after `ackWaitMs`): in HTTP mode
   * the ack waits for that, so a crash between ack and store cannot lose a mention; Slack
   * retries what it has no ack for, and the core's dedupe keeps the retry from a second answer.
   */
  function receive(event: MessageEvent, eventId: string | undefined, forceMention: boolean, what: string): Promise<void> {
    let accepted!: () => void;
    const stored = new Promise<void>((resolve) => (accepted = resolve));
    const done = onMessage(event, eventId, forceMention, accepted);
    run(done, what);
    return settledWithin(Promise.race([stored, done]), options.ackWaitMs ?? ACK_WAIT_MS);
  }

  app.event('app_mention', async ({ event, body }) => {
    await receive(event as unknown as MessageEvent, (body as { event_id?: string }).event_id, true, 'a mention');
  });

  app.event('message', async ({ event, body }) => {
    const message = event as unknown as MessageEvent;
    const eventId = (body as { event_id?: string }).event_id;
    const workspace = message.team ?? team;
    if (message.subtype === 'message_changed' && message.message !== undefined) {
      const changed = message.message;
      // The bot's own edits are its streaming updates: the core already holds the real answer.
      if (isOwn(changed)) return;
      if (changed.subtype === 'tombstone') {
        // A thread parent deleted while it has replies stays as a "This message was deleted." tombstone.
        run(onChange(message.channel, changed, workspace, (thread) => core.recordDelete(thread, changed.ts), false), 'a deletion');
        return;
      }
      const files = toAttachments(changed.files);
      run(onChange(message.channel, changed, workspace, (thread, text) => core.recordEdit(thread, changed.ts, text, files), true), 'an edit');
      return;
    }
    if (message.subtype === 'message_deleted') {
      const deleted = message.previous_message ?? { ts: message.deleted_ts ?? '' };
      const ts = message.deleted_ts ?? deleted.ts;
      run(onChange(message.channel, deleted, workspace, (thread) => core.recordDelete(thread, ts), false), 'a deletion');
      return;
    }
    if (!RECORDED_SUBTYPES.has(message.subtype)) return;
    await receive(message, eventId, false, 'a message');
  });

  registerSlackCommands(app, { core, logger, admins });
  registerAnswerButtons(app, { core, logger, admins, team: () => team });
  registerAssistantPanel(app, { core, logger, team: () => team });
  app.error(async (error) => {
    logger.error({ err: error }, 'Bolt error');
  });

  core.registerPlatform('slack', {
    ...slackFileServices(config.botToken, slackApiUrl),
    replySink(thread, messageId) {
      const [channel, threadTs] = thread.threadKey.split(':') as [string, string];
      return sinkFor(channel, { ts: messageId, thread_ts: threadTs }, channel.startsWith('D'))();
    },
    replaceSink(thread, messageId, postedIds) {
      const [channel, threadTs] = thread.threadKey.split(':') as [string, string];
      return sinkFor(channel, { ts: messageId, thread_ts: threadTs ?? messageId }, channel.startsWith('D'), postedIds)();
    },
    removeStrayReplies(thread, messageId, keep) {
      const [channel, threadTs] = thread.threadKey.split(':') as [string, string];
      return removeStrayReplies(app.client, { channel, threadTs }, messageId, isOwn, keep);
    },
  });

  let stopping = false;
  if (socketMode) {
    const socket = (receiver as InstanceType<typeof SocketModeReceiver>).client;
    socket.on('connected', () => {
      if (!stopping) health.set('slack', 'ready');
    });
    // 'close' comes the moment the socket drops; 'reconnecting' only after the client's back-off.
    for (const state of ['close', 'disconnected', 'reconnecting']) {
      socket.on(state, () => {
        if (!stopping) health.set('slack', 'connecting');
      });
    }
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
      stopping = true;
      health.set('slack', 'off');
      await app.stop();
      await lanes.handedOver();
    },
    async close() {},
    idle: () => lanes.idle(),
  };
}

/** A thread title from a question's mrkdwn: mentions, links and escapes reduced to plain text. */
function decodeForTitle(text: string | undefined): string {
  return (text ?? '')
    .replace(/<[@#!][^>|]*\|([^>]+)>/g, '$1')
    .replace(/<([^>|]+)\|([^>]+)>/g, '$2')
    .replace(/<([^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Slack retries an event it has no ack for after 3 s; the ack must leave well before. */
const ACK_WAIT_MS = 2_000;

/** Waits for `work` to settle, but no longer than `ms`; never rejects. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work.then(() => undefined, () => undefined), late]);
  clearTimeout(timer);
}
