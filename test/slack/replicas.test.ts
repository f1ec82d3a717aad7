/**
 * Slack HTTP mode behind a load balancer: two replicas (the real Bolt and core each) on one
 * PostgreSQL database, the fake Slack delivering events round robin and retrying on the other
 * replica. Dedupe has to come from the database: nothing one process remembers helps the other.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SlackEventDelivery } from '../fakes/slack/event-delivery.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/fake-slack.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { freePort, startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';

describe.skipIf(TEST_DATABASE_URL === undefined)(`Slack HTTP mode, two replicas on one PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let slack: FakeSlack;
  let replicas: SlackWorld[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  beforeEach(async () => {
    await database.reset();
    slack = await startFakeSlack();
  });
  let releaseOnFailure: (() => void) | undefined;
  afterEach(async () => {
    releaseOnFailure?.();
    releaseOnFailure = undefined;
    for (const replica of replicas) await replica.close();
    replicas = [];
    await slack.close();
  });

  async function twoReplicas(): Promise<[SlackWorld, SlackWorld]> {
    // One after the other: the first migrates the empty database.
    const a = await startSlackWorld('http', { slack, databaseUrl: database.url });
    const b = await startSlackWorld('http', { slack, databaseUrl: database.url });
    replicas.push(a, b);
    return [a, b];
  }

  const modelCalls = () => replicas.reduce((sum, r) => sum + r.h.anthropic.messageRequests().length, 0);
  const settle = async (which: readonly SlackWorld[] = replicas) => {
    for (const r of which) await r.adapter.idle();
    for (const r of which) await r.h.core.idle();
  };
  const mentionEvent = (user: string, text: string, extra: Record<string, unknown> = {}) => {
    const message = slack.seed(CHANNEL, user, `<@${slack.botUserId}> ${text}`, extra);
    return { message, event: { type: 'app_mention', user, text: message.text, ts: message.ts, channel: CHANNEL, team: slack.team, ...extra } };
  };

  it('answers each mention once when its retry and its message echo land on the other replica', async () => {
    const [a, b] = await twoReplicas();
    const delivery = new SlackEventDelivery(slack, [a.eventsUrl, b.eventsUrl]);
    const mentions = Array.from({ length: 6 }, (_, i) => mentionEvent(i % 2 === 0 ? ALICE : BOB, `question ${i}`));
    await Promise.all(
      mentions.flatMap(({ event }) => [
        delivery.deliver(event, { duplicate: true }),
        // Subscribed to both, Slack sends a mention as app_mention and as message.channels.
        delivery.deliver({ ...event, type: 'message', channel_type: 'channel' }),
      ]),
    );
    await settle();
    for (const { message } of mentions) {
      expect(slack.botMessages(CHANNEL, message.ts).map((m) => m.text)).toEqual([`echo: ${message.text.replace(/^<@\w+> /, '')}`]);
    }
    expect(modelCalls()).toBe(mentions.length);
    // Every event reached both replicas: the first attempts alternate, each retry went to the other one.
    const attempts = delivery.attempts.entries;
    expect(new Set(attempts.map((x) => x.url))).toEqual(new Set([a.eventsUrl, b.eventsUrl]));
    for (const retry of attempts.filter((x) => x.retryNum === 1)) {
      const first = attempts.find((x) => x.eventId === retry.eventId && x.retryNum === 0);
      expect(retry.url).not.toBe(first?.url);
    }
    // Both replicas acked events (which one answers a mention is whichever stored it first).
    expect(new Set(attempts.filter((x) => x.outcome === 'acked').map((x) => x.url))).toEqual(new Set([a.eventsUrl, b.eventsUrl]));
  });

  it('retries on the other replica when one is too slow to ack or down, and still answers once', async () => {
    const a = await startSlackWorld('http', { slack, databaseUrl: database.url });
    replicas.push(a);
    // B acks only once an event is stored, however long that takes (Slack does not wait that long).
    const b = await startSlackWorld('http', { slack, databaseUrl: database.url, ackWaitMs: 60_000 });
    replicas.push(b);
    const down = `http://127.0.0.1:${await freePort()}/slack/events`;
    const delivery = new SlackEventDelivery(slack, [down, a.eventsUrl, b.eventsUrl]);
    // The first attempt of this mention reaches a replica that is gone: Slack retries on the next.
    const refused = mentionEvent(ALICE, 'the first replica is down');
    const result = await delivery.deliver(refused.event);
    expect(result.attempts.map((x) => [x.url, x.outcome])).toEqual([
      [down, 'connection_failed'],
      [a.eventsUrl, 'acked'],
    ]);
    expect(result.acked?.reason).toBe('connection_failed');

    // The next one: replica B is slow to take it in (its user lookup hangs until Slack gave up
    // waiting); the retry goes to the dead URL and then to A, while B is still at it.
    const behindB = new SlackEventDelivery(slack, [b.eventsUrl, down, a.eventsUrl], { ackTimeoutMs: 1_000 });
    const hold = slack.hold('users.info', true);
    const slow = mentionEvent(BOB, 'replica B is slow');
    const slowDelivery = behindB.deliver(slow.event);
    await hold.arrived;
    const slowResult = await slowDelivery;
    hold.release();
    expect(slowResult.attempts.map((x) => [x.url, x.outcome])).toEqual([
      [b.eventsUrl, 'http_timeout'],
      [down, 'connection_failed'],
      [a.eventsUrl, 'acked'],
    ]);
    await settle();
    expect(slack.botMessages(CHANNEL, refused.message.ts)).toHaveLength(1);
    expect(slack.botMessages(CHANNEL, slow.message.ts).map((m) => m.text)).toEqual(['echo: replica B is slow']);
    expect(modelCalls()).toBe(2);
  });

  it('answers the mentions of one thread in order when they land on both replicas, with retries on the other one', async () => {
    const latency = { anthropic: { latency: { ttftMs: 150, tokensPerSecond: 50 } } };
    const a = await startSlackWorld('http', { slack, databaseUrl: database.url, ...latency });
    replicas.push(a);
    const b = await startSlackWorld('http', { slack, databaseUrl: database.url, ...latency });
    replicas.push(b);
    const delivery = new SlackEventDelivery(slack, [a.eventsUrl, b.eventsUrl]);
    const first = mentionEvent(ALICE, 'in order 0');
    await delivery.deliver(first.event);
    const texts = ['in order 0'];
    for (let k = 1; k < 8; k += 1) {
      const next = mentionEvent(ALICE, `in order ${k}`, { thread_ts: first.message.ts });
      texts.push(`in order ${k}`);
      await delivery.deliver(next.event, { duplicate: k % 3 === 1 });
      if (k % 3 === 2) await delivery.deliver({ ...next.event, type: 'message', channel_type: 'channel' });
    }
    await settle();
    expect(slack.botMessages(CHANNEL, first.message.ts).map((m) => m.text)).toEqual(texts.map((t) => `echo: ${t}`));
  });

  it('Socket Mode: each replica holds its own connection, events are spread among them and answered once', async () => {
    const a = await startSlackWorld('socket', { slack, databaseUrl: database.url });
    replicas.push(a);
    const b = await startSlackWorld('socket', { slack, databaseUrl: database.url });
    replicas.push(b);
    await slack.socketFrames.waitFor((f) => f.kind === 'connect' && f.connection === 2, 'the second connection');
    const mentions = Array.from({ length: 4 }, (_, i) => mentionEvent(ALICE, `over the socket ${i}`));
    for (const { event } of mentions) {
      const body = slack.envelopeFor(event);
      const ids = [slack.sendSocket('events_api', body), slack.sendSocket('events_api', body, 1)];
      for (const id of ids) await slack.socketFrames.waitFor((f) => f.kind === 'ack' && f.envelopeId === id, `ack of ${id}`);
    }
    await settle();
    for (const { message } of mentions) expect(slack.botMessages(CHANNEL, message.ts)).toHaveLength(1);
    expect(modelCalls()).toBe(mentions.length);
    const sentOn = new Set(slack.socketFrames.entries.filter((f) => f.kind === 'send').map((f) => f.connection));
    expect(sentOn).toEqual(new Set([1, 2]));
  });

  it('answers a mention that one replica stored while reading the history another replica was taking it in with', async () => {
    const [a, b] = await twoReplicas();
    // A thread the bot is not part of yet: the first mention in it reads its history.
    const parent = slack.seed(CHANNEL, BOB, 'a plain message that starts a thread');
    const first = mentionEvent(ALICE, 'first in the thread', { thread_ts: parent.ts });
    // Replica A reads the history for the first mention; that read hangs...
    const read = slack.hold('conversations.replies', true);
    releaseOnFailure = read.release;
    const firstDone = a.deliver(first.event, { eventId: 'EvFIRST' });
    await read.arrived;
    // ... while the second mention reaches replica B, which reads the history too (with both
    // mentions in it), stores the thread and answers the second mention.
    const second = mentionEvent(BOB, 'second in the thread', { thread_ts: parent.ts });
    await b.deliver(second.event, { eventId: 'EvSECOND' });
    await settle([b]);
    expect(slack.botMessages(CHANNEL, parent.ts).map((m) => m.text)).toEqual([expect.stringMatching(/second in the thread$/)]);
    // A's read comes back: the first mention is stored already (by B's read), but never delivered
    // before, so it is answered, once.
    read.release();
    await firstDone;
    await settle();
    expect(slack.botMessages(CHANNEL, parent.ts).map((m) => m.text)).toEqual([expect.stringMatching(/second in the thread$/), expect.stringMatching(/first in the thread$/)]);
    expect(modelCalls()).toBe(2);
    // The message echo of the first mention, on B, is a duplicate.
    await b.deliver({ ...first.event, type: 'message', channel_type: 'channel' }, { eventId: 'EvFIRSTECHO' });
    await settle();
    expect(modelCalls()).toBe(2);
  });
});
