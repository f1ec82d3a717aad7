/**
 * Three `npm start` processes on one PostgreSQL database, with the fakes: Slack HTTP events
 * spread over the three by a load balancer (retries land on another replica), answers slow
 * enough to be in flight, one replica killed with `kill -9` while it answers and never started
 * again, another stopped with SIGTERM and started again. Every mention is answered exactly once,
 * in its thread's order (on the fakes and in the database), the killed replica's jobs are taken
 * over by the live ones, and an `/instructions` change through one replica is in the next
 * request of another.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/fake-slack.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { ReplicaWorld } from './replicas-world.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
const INSTRUCTIONS = 'Answer like a lighthouse keeper.';

/** One mention as asked: where, and the text its answer echoes. */
interface Asked {
  readonly thread: string;
  readonly text: string;
  /** The platform's message id (Slack ts). */
  readonly id: string;
}

type RequestBody = { system?: Array<{ text: string }> | string; messages: Array<{ role: string; content: Array<{ type: string; text?: string }> | string }> };

describe.skipIf(TEST_DATABASE_URL === undefined)(`three replicas on one PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let dir: string;
  let slack: FakeSlack;
  let world: ReplicaWorld;
  beforeAll(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'threadline-replicas-'));
    slack = await startFakeSlack();
    world = await ReplicaWorld.create({
      names: ['A', 'B', 'C'],
      databaseUrl: database.url,
      dataDir: dir,
      slack,
      latency: { ttftMs: 250, tokensPerSecond: 25 },
      env: {
        REPLY_LEASE_SECONDS: '3',
        SLACK_ADMIN_USER_IDS: ALICE,
        // 200 mentions from two people in a minute: the per-person limits are not under test here.
        RATE_LIMIT_USER_PER_MINUTE: '0',
        RATE_LIMIT_CHANNEL_PER_MINUTE: '0',
        LOG_LEVEL: 'info',
      },
    });
  });
  afterAll(async () => {
    await world?.close();
    await slack?.close();
    await database?.drop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const asked: Asked[] = [];

  /** A Slack thread of `count` mentions by one person, each posted once the previous one is acked. */
  async function slackThread(label: string, user: string, count: number): Promise<void> {
    let parentTs: string | undefined;
    for (let k = 0; k < count; k += 1) {
      const text = `${label} question ${k}`;
      const message = slack.seed(CHANNEL, user, `<@${slack.botUserId}> ${text}`, parentTs === undefined ? {} : { thread_ts: parentTs });
      parentTs ??= message.ts;
      const event = { type: 'app_mention', user, text: message.text, ts: message.ts, channel: CHANNEL, team: slack.team, ...(k === 0 ? {} : { thread_ts: parentTs }) };
      asked.push({ thread: `slack:${parentTs}`, text, id: message.ts });
      // Some are delivered twice (the ack reached Slack late), some also as message.channels.
      const result = await world.delivery.deliver(event, { duplicate: k % 3 === 1 });
      if (result.acked === undefined) throw new Error(`Slack gave up on ${text}: ${JSON.stringify(result.attempts)}`);
      if (k % 4 === 2) await world.delivery.deliver({ ...event, type: 'message', channel_type: 'channel' });
    }
  }

  const answersIn = (thread: string) => {
    const [platform, id] = thread.split(':') as [string, string];
    if (platform === 'slack') return slack.botMessages(CHANNEL, id).map((m) => m.text);
    throw new Error(`unknown platform ${platform}`);
  };

  /** Waits until every thread shows one answer per mention, in order (the database check below finds any extra). */
  async function everyMentionAnswered(timeout: number): Promise<void> {
    const threads = [...new Set(asked.map((a) => a.thread))];
    const expected = (thread: string) => asked.filter((a) => a.thread === thread).map((a) => `echo: ${a.text}`);
    const unfinished = () => threads.filter((t) => JSON.stringify(answersIn(t)) !== JSON.stringify(expected(t)));
    try {
      await expect.poll(() => unfinished().length, { timeout, interval: 200 }).toBe(0);
    } finally {
      for (const thread of unfinished()) expect(answersIn(thread), `${thread}\n${await whatHappened(thread)}`).toEqual(expected(thread));
    }
  }

  /** For a failure message: the thread's rows and jobs, how its events were delivered, the logs. */
  async function whatHappened(thread: string): Promise<string> {
    const [, threadKey] = thread.split(':') as [string, string];
    const rows = await world.rows(
      `SELECT m.id, m.platform_message_id, m.role, left(m.text, 40) AS text, m.reply_to_message_id, j.state, j.attempts, j.lease_owner
         FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN reply_jobs j ON j.message_id = m.id
        WHERE c.thread_key LIKE $1 ORDER BY m.id`,
      [`%${threadKey}`],
    ).catch((error: unknown) => [String(error)]);
    const ids = new Set(asked.filter((a) => a.thread === thread).map((a) => a.id));
    const attempts = world.delivery.attempts.entries.filter((x) => ids.has(x.ts ?? ''));
    return [JSON.stringify(rows, null, 1), JSON.stringify(attempts), world.logs().slice(-8000)].join('\n');
  }

  const modelRequestsTo = (name: string) => world.get(name).anthropic.messageRequests();
  const lastUserText = (body: RequestBody) => {
    const last = [...body.messages].reverse().find((m) => m.role === 'user');
    const content = last?.content ?? '';
    return typeof content === 'string' ? content : content.map((b) => b.text ?? '').join('\n');
  };
  const systemText = (body: RequestBody) => (typeof body.system === 'string' ? body.system : (body.system ?? []).map((b) => b.text).join('\n'));

  it('answers every mention exactly once, in order, through a kill -9 and a restart, and shares instructions', { timeout: 170_000 }, async () => {
    await Promise.all(['A', 'B', 'C'].map((name) => world.start(name)));

    // Warm up: every replica answers (and caches what it read: instructions, settings, threads).
    await Promise.all(Array.from({ length: 8 }, (_, t) => slackThread(`warm ${t}`, t % 2 === 0 ? ALICE : BOB, 4)));
    await everyMentionAnswered(40_000);
    for (const name of ['A', 'B', 'C']) expect(modelRequestsTo(name).length, `replica ${name} answered`).toBeGreaterThan(0);

    // /instructions through A; B's next reply carries them.
    const command = slack.slashCommand('/instructions', `set ${INSTRUCTIONS}`, ALICE, CHANNEL);
    const commandId = command.response_url!.split('/respond/')[1]!;
    const sent = await slack.sendHttp(world.get('A').eventsUrl, new URLSearchParams(command).toString(), { contentType: 'application/x-www-form-urlencoded' });
    expect(sent.status).toBe(200);
    await slack.responses.waitFor((r) => r.id === commandId, 'the /instructions answer', { timeoutMs: 10_000 });
    const question = slack.seed(CHANNEL, BOB, `<@${slack.botUserId}> after the instructions changed`);
    const direct = await slack.sendHttp(world.get('B').eventsUrl, JSON.stringify(slack.envelopeFor({ type: 'app_mention', user: BOB, text: question.text, ts: question.ts, channel: CHANNEL, team: slack.team })));
    expect(direct.status).toBe(200);
    asked.push({ thread: `slack:${question.ts}`, text: 'after the instructions changed', id: question.ts });
    await expect.poll(() => modelRequestsTo('B').find((r) => lastUserText(r.body as RequestBody).includes('after the instructions changed')), { timeout: 15_000 }).toBeDefined();
    const bRequest = modelRequestsTo('B').find((r) => lastUserText(r.body as RequestBody).includes('after the instructions changed'));
    expect(systemText(bRequest?.body as RequestBody)).toContain(INSTRUCTIONS);

    // Load with faults: A is killed while it answers, B stopped and started again meanwhile.
    const load = Promise.all(Array.from({ length: 16 }, (_, t) => slackThread(`load ${t}`, t % 2 === 0 ? ALICE : BOB, 5)));
    await expect.poll(() => world.get('A').anthropic.streaming(), { timeout: 20_000, interval: 20 }).toBeGreaterThan(0);
    const answeredByABeforeTheKill = modelRequestsTo('A').length;
    await world.kill('A');
    await expect.poll(() => world.get('B').anthropic.streaming(), { timeout: 20_000, interval: 20 }).toBeGreaterThan(0);
    expect(await world.stop('B')).toBe(0);
    await world.start('B');
    await load;
    await everyMentionAnswered(60_000);
    // A never came back: what it was answering was taken over by B and C.
    expect(world.current('A').child.signalCode).toBe('SIGKILL');
    expect(modelRequestsTo('A').length).toBe(answeredByABeforeTheKill);

    // The database agrees: one job per mention, all done, one answer per question, in order.
    const jobs = await world.rows<{ state: string; n: string }>('SELECT state, count(*) AS n FROM reply_jobs GROUP BY state');
    expect(jobs.map((j) => [j.state, Number(j.n)])).toEqual([['done', asked.length]]);
    const answers = await world.rows<{ conversation_id: string; question: string; text: string }>(
      `SELECT q.conversation_id, q.id AS question, a.text FROM messages a JOIN messages q ON q.id = a.reply_to_message_id
        WHERE a.role = 'assistant' AND a.reply_part_of IS NULL ORDER BY a.id`,
    );
    expect(answers.map((a) => a.text).sort()).toEqual(asked.map((a) => `echo: ${a.text}`).sort());
    const byConversation = new Map<string, number[]>();
    for (const answer of answers) byConversation.set(answer.conversation_id, [...(byConversation.get(answer.conversation_id) ?? []), Number(answer.question)]);
    for (const questions of byConversation.values()) expect(questions).toEqual([...questions].sort((x, y) => x - y));
  });
});
