/**
 * Two `npm start` processes on one PostgreSQL database and a one-shard fake Discord. A takes a
 * channel mention in, and its answer's first write (opening the mention's thread) meets a long
 * rate limit; A is killed (`kill -9`) while it waits, the thread never opened. B, standing by,
 * takes the answer over when A's lease runs out: it opens the thread once and answers there, and
 * a follow-up in that thread (delivered live, or read back by the catch-up when B takes the shard)
 * is answered after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeDiscord } from '../fakes/discord/fake-discord.js';
import { POSTGRES_SKIP_REASON, TEST_DATABASE_URL } from '../helpers/postgres.js';
import { openReplicaStage, type ReplicaStage, type ReplicaWorld } from './replicas-world.js';

describe.skipIf(TEST_DATABASE_URL === undefined)(`a channel mention's thread, never opened by its dead replica${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let discord: FakeDiscord;
  let world: ReplicaWorld;
  let stage: ReplicaStage | undefined;
  beforeAll(async () => {
    stage = await openReplicaStage({ names: ['A', 'B'], discord: { shardCount: 1 }, env: { DISCORD_SHARD_COUNT: '1', REPLY_LEASE_SECONDS: '1' } });
    ({ world, discord } = stage);
  });
  afterAll(() => stage?.close());

  it('is opened once, and answered there once, by the replica that takes the answer over', { timeout: 120_000 }, async () => {
    const channel = discord.addTextChannel('general');
    const alice = discord.user('100000000000000001', 'Alice');
    const answers = (threadId: string) => discord.botMessages(threadId).map((m) => m.content);
    try {
      await world.start('A');
      await expect.poll(() => world.discordState('A'), { timeout: 30_000, interval: 100 }).toBe('ready');
      // One shard for two: A keeps it, B stands by.
      await world.start('B');
      expect(await world.discordState('B')).toBe('standby');

      discord.rateLimit((method, path) => method === 'POST' && path.endsWith('/threads'), 1, 600);
      const mention = discord.post(channel.id, alice, discord.mention('who answers me?'));
      const opening = (r: { method: string; path: string }) => r.method === 'POST' && r.path === `/channels/${channel.id}/messages/${mention.id}/threads`;
      await discord.rest.waitFor((r) => opening(r) && r.status === 429, 'A trying to open the thread', { timeoutMs: 30_000 });
      await world.kill('A');

      await expect.poll(() => answers(mention.id), { timeout: 30_000, interval: 100 }).toEqual(['echo: who answers me?']);
      discord.post(mention.id, alice, discord.mention('and then?'));
      await expect.poll(() => answers(mention.id), { timeout: 30_000, interval: 100 }).toEqual(['echo: who answers me?', 'echo: and then?']);

      expect(discord.rest.entries.filter(opening).map((r) => r.status)).toEqual([429, 201]);
      expect(discord.botMessages(channel.id)).toEqual([]);
      expect(world.get('A').anthropic.messageRequests()).toHaveLength(0);
      const jobs = await world.rows<{ state: string; n: string }>('SELECT state, count(*) AS n FROM reply_jobs GROUP BY state');
      expect(jobs.map((j) => [j.state, Number(j.n)])).toEqual([['done', 2]]);
    } catch (error) {
      throw new Error(`${String(error)}\n${world.logs()}`, { cause: error });
    }
  });
});
