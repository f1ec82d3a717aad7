import { afterEach, describe, expect, it } from 'vitest';
import { startSlackWorld, type SlackWorld } from './setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const allText = (body: unknown) => (body as Body).messages.flatMap((m) => m.content.map((b) => `${m.role}:${b.text ?? b.type}`)).join('\n');
const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';

describe.each(['http', 'socket'] as const)('Slack adapter (%s mode)', (mode) => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  const mention = (world: SlackWorld, text: string, extra: Record<string, unknown> = {}) => {
    const message = world.slack.seed(CHANNEL, ALICE, `<@${world.slack.botUserId}> ${text}`, extra);
    return { message, event: { type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: world.slack.team, ...extra } };
  };

  it('answers a mention in the thread of that message, once, even with retries and the message echo', async () => {
    w = await startSlackWorld(mode);
    expect(await w.h.health.snapshot()).toMatchObject({ slack: 'ready' });
    const { message, event } = mention(w, 'what is &lt;b&gt; in <https://x.test|the docs>?');
    await w.deliver(event, { eventId: 'EvFIRST' });
    await w.deliver(event, { eventId: 'EvFIRST', retry: 1 });
    await w.deliver(event, { eventId: 'EvFIRST', retry: 2 });
    // The same message also arrives as a plain message event, with its own event id.
    await w.deliver({ type: 'message', channel_type: 'channel', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: w.slack.team }, { eventId: 'EvSECOND' });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
    expect(allText(w.h.anthropic.messageRequests()[0]?.body)).toBe('user:what is <b> in the docs (https://x.test)?');
    const replies = w.slack.botMessages(CHANNEL, message.ts);
    expect(replies.map((m) => m.text)).toEqual(['echo: what is <b> in the docs (https://x.test)?']);
  });

  it('backfills a thread once with conversations.replies, then reads no more history', async () => {
    w = await startSlackWorld(mode, { fake: { pageSize: 4 } });
    const parent = w.slack.seed(CHANNEL, BOB, 'parent question about the launch');
    for (let i = 0; i < 9; i += 1) w.slack.seed(CHANNEL, i % 2 ? ALICE : BOB, `reply ${i}`, { thread_ts: parent.ts });
    const { event } = mention(w, 'summarize', { thread_ts: parent.ts });
    await w.deliver(event);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const text = allText(w.h.anthropic.messageRequests()[0]?.body);
    expect(text.match(/parent question about the launch/g)).toHaveLength(1);
    for (let i = 0; i < 9; i += 1) expect(text).toContain(`reply ${i}`);
    const reads = w.slack.calls.entries.filter((c) => c.method === 'conversations.replies').length;
    expect(reads).toBeGreaterThan(1);
    // A follow-up without mention in the same thread: answered, and no history read.
    await w.replyInThread(parent.ts, BOB, 'and the date?');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(w.slack.calls.entries.filter((c) => c.method === 'conversations.replies').length).toBe(reads);
    expect(allText(w.h.anthropic.messageRequests()[1]?.body)).toContain('Bob Builder: and the date?');
  });

  it('answers DMs', async () => {
    w = await startSlackWorld(mode);
    const dm = w.slack.seed('D0ALICEDM1', ALICE, 'hi in private');
    await w.deliver({ type: 'message', channel_type: 'im', user: ALICE, text: dm.text, ts: dm.ts, channel: 'D0ALICEDM1', team: w.slack.team });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.slack.botMessages('D0ALICEDM1', dm.ts).map((m) => m.text)).toEqual(['echo: hi in private']);
  });

  it('follows edits and deletes', async () => {
    w = await startSlackWorld(mode);
    const { message, event } = mention(w, 'first');
    await w.deliver(event);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const secret = await w.replyInThread(message.ts, BOB, 'secret 1234');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    await w.deliver({ type: 'message', subtype: 'message_deleted', channel: CHANNEL, ts: w.slack.nextTs(), deleted_ts: secret.ts, previous_message: { ts: secret.ts, thread_ts: message.ts, user: BOB, text: secret.text } });
    await w.deliver({ type: 'message', subtype: 'message_changed', channel: CHANNEL, ts: w.slack.nextTs(), message: { ts: message.ts, user: ALICE, text: `<@${w.slack.botUserId}> first, edited` } });
    await w.replyInThread(message.ts, ALICE, 'recap please');
    await w.h.anthropic.waitForRequests(3);
    const text = allText(w.h.anthropic.messageRequests()[2]?.body);
    expect(text).toContain('first, edited');
    expect(text).not.toContain('user:Bob Builder: secret 1234');
  });

  it('ignores other bots and its own posts', async () => {
    w = await startSlackWorld(mode);
    const other = w.slack.seed(CHANNEL, 'U0OTHERBOT', `<@${w.slack.botUserId}> hey bot`, { bot_id: 'B0OTHER001' });
    await w.deliver({ type: 'message', subtype: 'bot_message', bot_id: 'B0OTHER001', text: other.text, ts: other.ts, channel: CHANNEL, channel_type: 'channel' });
    const own = w.slack.seed(CHANNEL, w.slack.botUserId, 'my own words', { bot_id: w.slack.botId });
    await w.deliver({ type: 'message', user: w.slack.botUserId, bot_id: w.slack.botId, text: own.text, ts: own.ts, channel: CHANNEL, channel_type: 'channel' });
    const { event } = mention(w, 'only me');
    await w.deliver(event);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
  });
});

describe('Slack HTTP mode', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('rejects unsigned or stale requests with 401 and stores nothing', async () => {
    w = await startSlackWorld('http');
    const event = { type: 'app_mention', user: ALICE, text: `<@${w.slack.botUserId}> hi`, ts: w.slack.nextTs(), channel: CHANNEL };
    const body = JSON.stringify(w.slack.envelopeFor(event));
    expect((await w.slack.sendHttp(w.eventsUrl, body, { signature: 'bad' })).status).toBe(401);
    expect((await w.slack.sendHttp(w.eventsUrl, body, { signature: 'none' })).status).toBe(401);
    expect((await w.slack.sendHttp(w.eventsUrl, body, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect(w.h.anthropic.messageRequests()).toHaveLength(0);
    expect(await w.h.store.conversations.find({ platform: 'slack', workspaceId: w.slack.team, channelId: CHANNEL, threadKey: `${CHANNEL}:${event.ts}` })).toBeUndefined();
  });

  it('serves /healthz on the same port', async () => {
    w = await startSlackWorld('http');
    const response = await fetch(`http://127.0.0.1:${w.port}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, discord: 'off', slack: 'ready', db: 'ok' });
  });
});

describe('Slack Socket Mode', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('reconnects after a server disconnect and keeps answering', async () => {
    w = await startSlackWorld('socket');
    const connects = w.slack.socketFrames.entries.filter((f) => f.kind === 'connect').length;
    w.slack.sendDisconnect();
    await w.slack.socketFrames.waitFor((f) => f.kind === 'connect', 'reconnection', { since: w.slack.socketFrames.length });
    expect(w.slack.socketFrames.entries.filter((f) => f.kind === 'connect').length).toBe(connects + 1);
    await expect.poll(async () => (await w!.h.health.snapshot()).slack).toBe('ready');
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> still there?`);
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.slack.botMessages(CHANNEL, message.ts)).toHaveLength(1);
  });
});
