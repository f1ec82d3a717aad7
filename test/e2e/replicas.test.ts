/**
 * Three `npm start` processes on one PostgreSQL database, with the fakes: Slack HTTP events
 * spread over the three by a load balancer (retries land on another replica), a Discord gateway
 * of 3 shards split among them, answers slow enough to be in flight. One replica is killed with
 * `kill -9` while it answers and never started again, another stopped with SIGTERM and started
 * again. Every mention (200, in threads of several) is answered exactly once, in its thread's
 * order, on the fakes and in the database; the killed replica's shard and jobs are taken over by
 * the live ones; an `/instructions` change through one replica is in another's next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeDiscord } from '../fakes/discord/fake-discord.js';
import type { FakeSlack } from '../fakes/slack/fake-slack.js';
import { POSTGRES_SKIP_REASON, TEST_DATABASE_URL } from '../helpers/postgres.js';
import { SLACK_CHANNEL, Traffic } from './replicas-traffic.js';
import { openReplicaStage, type ReplicaStage, type ReplicaWorld } from './replicas-world.js';

const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
const SHARDS = 3;
const INSTRUCTIONS = 'Answer like a lighthouse keeper.';

type RequestBody = { system?: Array<{ text: string }> | string; messages: Array<{ role: string; content: Array<{ type: string; text?: string }> | string }> };

describe.skipIf(TEST_DATABASE_URL === undefined)(`three replicas on one PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let slack: FakeSlack;
  let discord: FakeDiscord;
  let world: ReplicaWorld;
  let traffic: Traffic;
  let stage: ReplicaStage | undefined;
  beforeAll(async () => {
    stage = await openReplicaStage({
      names: ['A', 'B', 'C'],
      // Shards may IDENTIFY together (max_concurrency), as for large bots: starts and takeovers need not queue 5 s apart.
      discord: { shardCount: SHARDS, maxConcurrency: SHARDS },
      latency: { ttftMs: 250, tokensPerSecond: 25 },
      env: {
        DISCORD_SHARD_COUNT: String(SHARDS),
        REPLY_LEASE_SECONDS: '3',
        SLACK_ADMIN_USER_IDS: ALICE,
        // 200 mentions from a few people in a minute or two: the per-person limits are not under test.
        RATE_LIMIT_USER_PER_MINUTE: '0',
        RATE_LIMIT_CHANNEL_PER_MINUTE: '0',
      },
    });
    ({ world, slack, discord } = stage);
    traffic = new Traffic(world, slack, discord);
  });
  afterAll(() => stage?.close());

  const modelRequestsTo = (name: string) => world.get(name).anthropic.messageRequests();
  const lastUserText = (body: RequestBody) => {
    const last = [...body.messages].reverse().find((m) => m.role === 'user');
    const content = last?.content ?? '';
    return typeof content === 'string' ? content : content.map((b) => b.text ?? '').join('\n');
  };
  const systemText = (body: RequestBody) => (typeof body.system === 'string' ? body.system : (body.system ?? []).map((b) => b.text).join('\n'));

  it('answers every mention exactly once, in order, through a kill -9 and a restart; shards, jobs and instructions are shared', { timeout: 240_000 }, async () => {
    // One guild per shard, a channel in each.
    const channels = Array.from({ length: SHARDS }, (_, shard) => discord.addTextChannel(`general-${shard}`, undefined, discord.addGuild({ shard, count: SHARDS })));
    const people = [discord.user('100000000000000001', 'Alice'), discord.user('100000000000000002', 'Bob')];
    await Promise.all(['A', 'B', 'C'].map((name) => world.start(name)));
    // The replicas split the shards: one each.
    await expect.poll(() => ['A', 'B', 'C'].map((name) => world.shardsOf(name).length), { timeout: 40_000, interval: 200 }).toEqual([1, 1, 1]);
    // Taken is not connected: a channel mention posted before its shard's READY reaches nobody (and
    // catch-up reads back only threads it knows), so the warm-up waits for every shard's session.
    await expect.poll(() => Promise.all(['A', 'B', 'C'].map((name) => world.discordState(name))), { timeout: 40_000, interval: 200 }).toEqual(['ready', 'ready', 'ready']);

    // Warm up: every replica answers (and caches what it read: instructions, settings, threads).
    const discordThreads: Array<{ id: string; label: string; user: (typeof people)[number] }> = [];
    await Promise.all([
      ...Array.from({ length: 8 }, (_, t) => traffic.slackThread(`warm ${t}`, t % 2 === 0 ? ALICE : BOB, 4)),
      ...channels.flatMap((channel, g) =>
        Array.from({ length: 3 }, async (_, t) => {
          const label = `guild ${g} thread ${t}`;
          const user = people[t % 2] as (typeof people)[number];
          const id = await traffic.discordThread(label, channel.id, user);
          discordThreads.push({ id, label, user });
          await traffic.discordFollowUps(`${label} warm`, id, user, 1);
        }),
      ),
    ]);
    await traffic.everyMentionAnswered(60_000);
    for (const name of ['A', 'B', 'C']) expect(modelRequestsTo(name).length, `replica ${name} answered`).toBeGreaterThan(0);

    // /instructions through A; B's next reply carries them.
    const command = slack.slashCommand('/instructions', `set ${INSTRUCTIONS}`, ALICE, SLACK_CHANNEL);
    const commandId = command.response_url!.split('/respond/')[1]!;
    const sent = await slack.sendHttp(world.get('A').eventsUrl, new URLSearchParams(command).toString(), { contentType: 'application/x-www-form-urlencoded' });
    expect(sent.status).toBe(200);
    await slack.responses.waitFor((r) => r.id === commandId, 'the /instructions answer', { timeoutMs: 10_000 });
    const question = slack.seed(SLACK_CHANNEL, BOB, `<@${slack.botUserId}> after the instructions changed`);
    const direct = await slack.sendHttp(world.get('B').eventsUrl, JSON.stringify(slack.envelopeFor({ type: 'app_mention', user: BOB, text: question.text, ts: question.ts, channel: SLACK_CHANNEL, team: slack.team })));
    expect(direct.status).toBe(200);
    traffic.asked.push({ thread: `slack:${question.ts}`, text: 'after the instructions changed', id: question.ts });
    const bRequest = () => modelRequestsTo('B').find((r) => lastUserText(r.body as RequestBody).includes('after the instructions changed'));
    await expect.poll(bRequest, { timeout: 15_000 }).toBeDefined();
    expect(systemText(bRequest()?.body as RequestBody)).toContain(INSTRUCTIONS);

    // Load with faults: A is killed while it answers, B stopped and started again meanwhile.
    const [shardOfA] = world.shardsOf('A');
    const load = Promise.all([
      ...Array.from({ length: 16 }, (_, t) => traffic.slackThread(`load ${t}`, t % 2 === 0 ? ALICE : BOB, 5)),
      ...discordThreads.map(({ id, label, user }) => traffic.discordFollowUps(`${label} load`, id, user, 8, 2, 90_000)),
    ]);
    await expect.poll(() => world.get('A').anthropic.streaming(), { timeout: 20_000, interval: 20 }).toBeGreaterThan(0);
    const gatewayBeforeKill = discord.gateway.length;
    await world.kill('A');
    const askedOfA = modelRequestsTo('A').length;
    await expect.poll(() => world.get('B').anthropic.streaming(), { timeout: 20_000, interval: 20 }).toBeGreaterThan(0);
    expect(await world.stop('B')).toBe(0);
    await world.start('B');
    // A's shard: connected again, by a live replica (A is gone), with a fresh session.
    await discord.gateway.waitFor((e) => e.kind === 'identify' && e.shard[0] === shardOfA, `shard ${String(shardOfA)} taken over`, { since: gatewayBeforeKill, timeoutMs: 60_000 });
    await load;
    await traffic.everyMentionAnswered(90_000);
    expect(traffic.asked.length).toBeGreaterThanOrEqual(200);

    // A never came back: what it was answering was taken over by B and C.
    expect(world.current('A').child.signalCode).toBe('SIGKILL');
    expect(modelRequestsTo('A').length).toBe(askedOfA);
    // Each shard was connected by one replica at a time.
    expect(discord.gateway.entries.filter((e) => e.kind === 'overlap')).toEqual([]);

    // The database agrees: one job per mention, all done, one answer per question, in order.
    const jobs = await world.rows<{ state: string; n: string }>('SELECT state, count(*) AS n FROM reply_jobs GROUP BY state');
    expect(jobs.map((j) => [j.state, Number(j.n)])).toEqual([['done', traffic.asked.length]]);
    // What A was answering when it died was taken up again from its expired lease (a job handed
    // back by a graceful stop is taken without counting an attempt).
    const takenOver = await world.rows<{ n: string }>('SELECT count(*) AS n FROM reply_jobs WHERE attempts > 0');
    expect(Number(takenOver[0]?.n)).toBeGreaterThan(0);
    const answers = await world.rows<{ conversation_id: string; question: string; text: string }>(
      `SELECT q.conversation_id, q.id AS question, a.text FROM messages a JOIN messages q ON q.id = a.reply_to_message_id
        WHERE a.role = 'assistant' AND a.reply_part_of IS NULL ORDER BY a.id`,
    );
    expect(answers.map((a) => a.text).sort()).toEqual(traffic.asked.map((a) => `echo: ${a.text}`).sort());
    const byConversation = new Map<string, number[]>();
    for (const answer of answers) byConversation.set(answer.conversation_id, [...(byConversation.get(answer.conversation_id) ?? []), Number(answer.question)]);
    for (const questions of byConversation.values()) expect(questions).toEqual([...questions].sort((x, y) => x - y));
  });
});
