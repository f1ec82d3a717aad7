/**
 * Delivery edge cases through the real Bolt and core: concurrent retries, a restart between a
 * delivery and its retries, events racing inside one thread, file shares, tombstones, and the
 * Socket Mode connection dropping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IMAGE_BYTES } from '../helpers/images.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const allText = (body: unknown) => (body as Body).messages.flatMap((m) => m.content.map((b) => `${m.role}:${b.text ?? b.type}`)).join('\n');
const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';

/** A mention answered, so the thread is one the bot takes part in. */
async function activeThread(w: SlackWorld, text = 'start') {
  const parent = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> ${text}`);
  await w.deliver({ type: 'app_mention', user: ALICE, text: parent.text, ts: parent.ts, channel: CHANNEL, team: w.slack.team });
  await w.h.anthropic.waitForRequests(1);
  await w.adapter.idle();
  return parent;
}

function reply(w: SlackWorld, parentTs: string, user: string, text: string, extra: Record<string, unknown> = {}) {
  const message = w.slack.seed(CHANNEL, user, text, { thread_ts: parentTs, ...extra });
  return { message, event: { type: 'message', channel_type: 'channel', user, text, ts: message.ts, thread_ts: parentTs, channel: CHANNEL, team: w.slack.team, ...extra } };
}

describe.each(['http', 'socket'] as const)('Slack delivery (%s mode)', (mode) => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('answers once when the original, two retries and the message echo arrive together', async () => {
    w = await startSlackWorld(mode);
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> all at once`);
    const mention = { type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: w.slack.team };
    const world = w;
    await Promise.all([
      world.deliver(mention, { eventId: 'EvBURST' }),
      world.deliver(mention, { eventId: 'EvBURST', retry: 1 }),
      world.deliver(mention, { eventId: 'EvBURST', retry: 2 }),
      world.deliver({ ...mention, type: 'message', channel_type: 'channel' }, { eventId: 'EvBURSTECHO' }),
    ]);
    await w.adapter.idle();
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
    expect(w.slack.botMessages(CHANNEL, message.ts).map((m) => m.text)).toEqual(['echo: all at once']);
  });

  it('gives its Web API client a bounded retry policy and timeout (the Socket Mode client would set 100 retries)', async () => {
    w = await startSlackWorld(mode);
    const client = w.adapter.app.client as unknown as { retryConfig: { retries: number }; timeout: number; slackApiUrl: string };
    expect(client.retryConfig.retries).toBe(5);
    expect(client.timeout).toBe(30_000);
    expect(client.slackApiUrl).toBe(w.slack.apiUrl);
  });

  it('does not answer a retry again after a restart', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'threadline-slack-restart-'));
    const databasePath = join(directory, 'threadline.db');
    const first = await startSlackWorld(mode, { databasePath });
    const slack = first.slack;
    let second: SlackWorld | undefined;
    try {
      const message = slack.seed(CHANNEL, ALICE, `<@${slack.botUserId}> before the restart`);
      const mention = { type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: slack.team };
      await first.deliver(mention, { eventId: 'EvRESTART' });
      await first.h.anthropic.waitForRequests(1);
      await first.adapter.idle();
      // Stop the bot, keep Slack (and the database) running.
      await first.adapter.stop();
      await first.h.close();

      second = await startSlackWorld(mode, { databasePath, slack });
      await second.deliver(mention, { eventId: 'EvRESTART', retry: 1 });
      await second.deliver(mention, { eventId: 'EvRESTART', retry: 2 });
      await second.deliver({ ...mention, type: 'message', channel_type: 'channel' }, { eventId: 'EvRESTARTECHO' });
      await second.adapter.idle();
      await second.h.core.idle();
      expect(second.h.anthropic.messageRequests()).toHaveLength(0);
      expect(slack.botMessages(CHANNEL, message.ts)).toHaveLength(1);

      // The restarted bot still answers new questions in that thread, from the stored history.
      const follow = slack.seed(CHANNEL, ALICE, 'after the restart', { thread_ts: message.ts });
      await second.deliver({ type: 'message', channel_type: 'channel', user: ALICE, text: follow.text, ts: follow.ts, thread_ts: message.ts, channel: CHANNEL, team: slack.team });
      await second.h.anthropic.waitForRequests(1);
      expect(allText(second.h.anthropic.messageRequests()[0]?.body)).toMatch(/before the restart[\s\S]*echo: before the restart[\s\S]*after the restart/);
      expect(slack.calls.entries.filter((c) => c.method === 'conversations.replies')).toHaveLength(0);
    } finally {
      await second?.close();
      await slack.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('Slack delivery', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('keeps a thread in delivery order when an earlier author needs a users.info lookup', async () => {
    w = await startSlackWorld('http');
    const parent = await activeThread(w);
    w.slack.addUser('U0CAROL001', 'carol', 'Carol Danvers');
    const lookup = w.slack.hold('users.info');
    const carol = reply(w, parent.ts, 'U0CAROL001', 'first, from Carol');
    await w.deliver(carol.event);
    await lookup.arrived;
    // Alice's name is cached: without per-thread order her later message would overtake Carol's.
    const alice = reply(w, parent.ts, ALICE, 'second, from Alice');
    await w.deliver(alice.event);
    lookup.release();
    await w.h.anthropic.waitForRequests(3);
    await w.adapter.idle();
    const [, firstAnswer, secondAnswer] = w.h.anthropic.messageRequests().map((r) => allText(r.body));
    expect(firstAnswer).toMatch(/first, from Carol$/);
    expect(secondAnswer).toMatch(/first, from Carol[\s\S]*second, from Alice$/);
  });

  it('looks each author up once, however many messages they write', async () => {
    w = await startSlackWorld('http', { fake: { pageSize: 3 } });
    const parent = w.slack.seed(CHANNEL, BOB, 'a long thread');
    for (let i = 0; i < 8; i += 1) w.slack.seed(CHANNEL, i % 2 ? ALICE : BOB, `line ${i} for <@${ALICE}>`, { thread_ts: parent.ts });
    const mention = reply(w, parent.ts, ALICE, `<@${w.slack.botUserId}> summarize`);
    await w.deliver({ ...mention.event, type: 'app_mention' });
    await w.h.anthropic.waitForRequests(1);
    await w.adapter.idle();
    const lookups = w.slack.calls.entries.filter((c) => c.method === 'users.info').map((c) => String(c.args.user));
    expect(lookups.sort()).toEqual([ALICE, BOB]);
  });

  it('answers a file shared in a thread it takes part in, without a mention', async () => {
    w = await startSlackWorld('http');
    const parent = await activeThread(w);
    const file = w.slack.file('chart.png', 'image/png', IMAGE_BYTES['image/png'] as Buffer, { original_w: 640, original_h: 480 });
    const shared = reply(w, parent.ts, ALICE, 'what about this one?', { subtype: 'file_share', files: [file] });
    await w.deliver(shared.event);
    await w.h.anthropic.waitForRequests(2);
    await w.adapter.idle();
    const body = w.h.anthropic.messageRequests()[1]?.body as unknown as Body;
    const last = body.messages.at(-1)?.content.map((b) => b.type) ?? [];
    expect(last).toContain('image');
    expect(allText(body)).toContain('what about this one?');
    expect(w.slack.botMessages(CHANNEL, parent.ts)).toHaveLength(2);
  });

  it('forgets a thread parent that became a tombstone', async () => {
    w = await startSlackWorld('http');
    const parent = await activeThread(w, 'the secret plan is 42');
    await w.deliver({
      type: 'message',
      subtype: 'message_changed',
      channel: CHANNEL,
      ts: w.slack.nextTs(),
      message: { type: 'message', subtype: 'tombstone', ts: parent.ts, thread_ts: parent.ts, user: 'USLACKBOT', text: 'This message was deleted.' },
    });
    const follow = reply(w, parent.ts, BOB, 'what was it about?');
    await w.deliver(follow.event);
    await w.h.anthropic.waitForRequests(2);
    const text = allText(w.h.anthropic.messageRequests()[1]?.body);
    expect(text).not.toContain('user:the secret plan is 42');
    expect(text).not.toContain('This message was deleted');
    expect(text).toContain('what was it about?');
  });

  it('applies an edit after the message it edits, even when that message was slower to translate', async () => {
    w = await startSlackWorld('http');
    const parent = await activeThread(w);
    w.slack.addUser('U0DAVE0001', 'dave', 'Dave Lister');
    const lookup = w.slack.hold('users.info');
    const dave = reply(w, parent.ts, 'U0DAVE0001', 'typo here');
    await w.deliver(dave.event);
    await lookup.arrived;
    await w.deliver({ type: 'message', subtype: 'message_changed', channel: CHANNEL, ts: w.slack.nextTs(), message: { type: 'message', ts: dave.message.ts, thread_ts: parent.ts, user: 'U0DAVE0001', text: 'fixed text' } });
    lookup.release();
    await w.h.anthropic.waitForRequests(2);
    await w.adapter.idle();
    const next = reply(w, parent.ts, ALICE, 'and now?');
    await w.deliver(next.event);
    await w.h.anthropic.waitForRequests(3);
    const text = allText(w.h.anthropic.messageRequests()[2]?.body);
    expect(text).toContain('fixed text');
    expect(text).not.toContain('user:Dave Lister: typo here');
  });
  it('applies an edit that arrives while the thread is still being backfilled', async () => {
    w = await startSlackWorld('http');
    w.slack.addUser('U0DAVE0001', 'dave', 'Dave Lister');
    const parent = w.slack.seed(CHANNEL, BOB, 'an old thread');
    const dave = reply(w, parent.ts, 'U0DAVE0001', `<@${w.slack.botUserId}> typo here`);
    const backfill = w.slack.hold('conversations.replies');
    await w.deliver({ ...dave.event, type: 'app_mention' });
    await backfill.arrived;
    // The edit reaches the adapter before the message it edits is stored.
    await w.deliver({ type: 'message', subtype: 'message_changed', channel: CHANNEL, ts: w.slack.nextTs(), message: { type: 'message', ts: dave.message.ts, thread_ts: parent.ts, user: 'U0DAVE0001', text: `<@${w.slack.botUserId}> fixed text` } });
    backfill.release();
    await w.h.anthropic.waitForRequests(1);
    await w.adapter.idle();
    const next = reply(w, parent.ts, ALICE, 'and now?');
    await w.deliver(next.event);
    await w.h.anthropic.waitForRequests(2);
    const text = allText(w.h.anthropic.messageRequests()[1]?.body);
    expect(text).toContain('fixed text');
    expect(text).not.toContain('user:Dave Lister: typo here');
  });
});

describe('Slack Socket Mode connection', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('reports connecting as soon as the socket drops, ready again once reconnected, and answers events sent meanwhile', async () => {
    w = await startSlackWorld('socket');
    expect(await w.h.health.snapshot()).toMatchObject({ ok: true, slack: 'ready' });
    const since = w.slack.socketFrames.length;
    w.slack.dropSocket();
    await w.slack.socketFrames.waitFor((f) => f.kind === 'close', 'socket close', { since });
    await expect.poll(() => w!.h.health.snapshot()).toMatchObject({ ok: false, slack: 'connecting' });
    await w.slack.socketFrames.waitFor((f) => f.kind === 'connect', 'reconnection', { since });
    await expect.poll(async () => (await w!.h.health.snapshot()).slack).toBe('ready');
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> back?`);
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: w.slack.team });
    await w.h.anthropic.waitForRequests(1);
    await w.adapter.idle();
    expect(w.slack.botMessages(CHANNEL, message.ts).map((m) => m.text)).toEqual(['echo: back?']);
  });
});

describe('Slack delivery over HTTP', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('acks a mention only once it is stored, so a crash before that leaves the retry to Slack', async () => {
    w = await startSlackWorld('http', { ackWaitMs: 2_000 });
    const world = w;
    world.slack.addUser('U0CAROL001', 'carol', 'Carol Danvers');
    const message = world.slack.seed(CHANNEL, 'U0CAROL001', `<@${world.slack.botUserId}> stored before the ack`);
    const thread = { platform: 'slack' as const, workspaceId: world.slack.team, channelId: CHANNEL, threadKey: `${CHANNEL}:${message.ts}` };
    const stored = async () => (await world.h.store.conversations.find(thread)) !== undefined;
    // Carol's name lookup is slow; the message can only be stored once it is back.
    const lookup = world.slack.hold('users.info');
    void lookup.arrived.then(() => setTimeout(() => lookup.release(), 100));
    const storedAtAck = world.deliver({ type: 'app_mention', user: 'U0CAROL001', text: message.text, ts: message.ts, channel: CHANNEL, team: world.slack.team }).then(stored);
    expect(await storedAtAck).toBe(true);
    await expect.poll(() => world.slack.botMessages(CHANNEL, message.ts).map((m) => m.text)).toEqual(['echo: stored before the ack']);
  });

  it('acks slash commands at once, before the admin check and the answer', async () => {
    w = await startSlackWorld('http', { ackWaitMs: 2_000 });
    const lookup = w.slack.hold('users.info');
    const payload = w.slack.slashCommand('/instructions', 'show', ALICE);
    const id = payload.response_url!.split('/respond/')[1]!;
    // users.info stays held until after the ack: an ack that waited for the admin check never comes.
    const response = await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(200);
    await lookup.arrived;
    lookup.release();
    const answer = await w.slack.responses.waitFor((r) => r.id === id, 'the answer to /instructions show');
    expect(answer.body.text).toMatch(/instructions/i);
  });
});
