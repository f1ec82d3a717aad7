/** The real Slack adapter (Bolt) on the real core, against the fake Slack and fake Messages API. */
import { createServer } from 'node:net';
import { createSlackAdapter, type SlackAdapter } from '../../src/adapters/slack/index.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions, type SlackMessage } from '../fakes/slack/fake-slack.js';
import { createCoreHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';

export interface SlackWorld {
  readonly slack: FakeSlack;
  readonly h: Harness;
  readonly adapter: SlackAdapter;
  readonly mode: 'http' | 'socket';
  readonly port: number;
  readonly eventsUrl: string;
  /** Delivers an event the way the mode does (signed HTTP or a socket envelope). */
  deliver(event: Record<string, unknown>, options?: { eventId?: string; retry?: number }): Promise<void>;
  /** Delivers an interactivity payload (`block_actions`) the way the mode does; resolves once acked. */
  deliverInteractive(payload: Record<string, unknown>): Promise<void>;
  /** A person replies in a thread: the message is added to Slack and its `message` event delivered. */
  replyInThread(parentTs: string, user: string, text: string, channel?: string): Promise<SlackMessage>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startSlackWorld(
  mode: 'http' | 'socket',
  options: HarnessOptions & { fake?: FakeSlackOptions; /** An already running fake (a restart of the bot against the same Slack); left running on close. */ slack?: FakeSlack; adminUserIds?: string[]; historyLimit?: number; databasePath?: string; spacingMs?: number; ackWaitMs?: number } = {},
): Promise<SlackWorld> {
  const slack = options.slack ?? (await startFakeSlack(options.fake));
  const h = await createCoreHarness({ ...options, secrets: [slack.botToken, slack.appToken, slack.signingSecret] });
  const port = await freePort();
  const adapter = createSlackAdapter({
    config: {
      botToken: slack.botToken,
      appToken: mode === 'socket' ? slack.appToken : undefined,
      signingSecret: mode === 'http' ? slack.signingSecret : undefined,
      apiUrl: slack.apiUrl,
      adminUserIds: options.adminUserIds ?? [],
      historyLimit: options.historyLimit ?? 1000,
    },
    core: h.core,
    logger: h.logger,
    health: h.health,
    port,
    spacingMs: options.spacingMs ?? 20,
    // Tests that hold a Web API call on purpose would otherwise wait out the full 2 s per event.
    ackWaitMs: options.ackWaitMs ?? 250,
  });
  h.health.enable('slack');
  await adapter.start();
  if (mode === 'socket') await slack.socketFrames.waitFor((f) => f.kind === 'connect', 'socket connection');
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  const world: SlackWorld = {
    slack,
    h,
    adapter,
    mode,
    port,
    eventsUrl,
    async deliver(event, deliverOptions = {}) {
      const body = slack.envelopeFor(event, deliverOptions.eventId);
      if (mode === 'http') {
        const response = await slack.sendHttp(eventsUrl, JSON.stringify(body), deliverOptions.retry === undefined ? {} : { retryNum: deliverOptions.retry });
        if (response.status !== 200) throw new Error(`events endpoint answered ${response.status}: ${response.body}`);
      } else {
        const id = slack.sendSocket('events_api', body, deliverOptions.retry ?? 0);
        await slack.socketFrames.waitFor((f) => f.kind === 'ack' && f.envelopeId === id, `ack of ${id}`);
      }
    },
    async deliverInteractive(payload) {
      if (mode === 'http') {
        const response = await slack.sendHttp(eventsUrl, `payload=${encodeURIComponent(JSON.stringify(payload))}`, { contentType: 'application/x-www-form-urlencoded' });
        if (response.status !== 200) throw new Error(`interactivity endpoint answered ${response.status}: ${response.body}`);
      } else {
        const id = slack.sendSocket('interactive', payload);
        await slack.socketFrames.waitFor((f) => f.kind === 'ack' && f.envelopeId === id, `ack of ${id}`);
      }
    },
    async replyInThread(parentTs, user, text, channel = 'C0GENERAL1') {
      const message = slack.seed(channel, user, text, { thread_ts: parentTs });
      await world.deliver({ type: 'message', channel_type: 'channel', user, text, ts: message.ts, thread_ts: parentTs, channel, team: slack.team });
      return message;
    },
    async close() {
      await adapter.stop();
      await h.close();
      if (options.slack === undefined) await slack.close();
    },
  };
  return world;
}
