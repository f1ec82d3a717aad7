/**
 * Gateway shards split among replicas through PostgreSQL: three replicas (each its own core and
 * discord.js adapter over one database) and two shards. Two end up with one shard each and the
 * third stands by (healthy); a mention in a guild of each shard is answered once, by the replica
 * holding it. When a holder dies (its lock connection gone), the standby takes its shard over and
 * a follow-up posted while nobody held the shard is answered through catch-up; a replica that
 * stops gracefully hands its shard on at once.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDiscordAdapter, type DiscordAdapter } from '../../src/adapters/discord/index.js';
import { LockedShardAssignment } from '../../src/core/shards/shard-assignment.js';
import type { ThreadRef } from '../../src/core/types.js';
import { namespaceKey, type ResourceLocks } from '../../src/store/locks.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/fake-discord.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { NO_SHARDS, registeredServices } from './setup.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

const NAMESPACE = 'discord-shards';
const POLL_MS = 200;

interface Replica {
  readonly name: string;
  readonly h: Harness;
  readonly adapter: DiscordAdapter;
  readonly assignment: LockedShardAssignment;
  /** From now on this replica cannot reach the locks again: it behaves as if its process died. */
  kill(): void;
}

/** The real locks, until `kill`: then every survey fails, as for a process that is gone. */
function killable(locks: ResourceLocks): { locks: ResourceLocks; kill(): void } {
  let dead = false;
  return {
    kill: () => (dead = true),
    locks: {
      survey: () => (dead ? Promise.reject(new Error('this replica is dead')) : locks.survey()),
      tryAcquire: (id) => (dead ? Promise.resolve(false) : locks.tryAcquire(id)),
      release: (id) => locks.release(id),
      held: () => locks.held(),
      onLost: (listener) => locks.onLost(listener),
      close: () => locks.close(),
    },
  };
}

async function startReplica(name: string, discord: FakeDiscord, databaseUrl: string, shardCount: number | 'auto'): Promise<Replica> {
  const h = await createCoreHarness({ databaseUrl, secrets: [discord.token] });
  const { locks, kill } = killable(h.store.resourceLocks(NAMESPACE));
  const assignment = new LockedShardAssignment(locks, h.logger, POLL_MS, (key, windowMs) => h.store.takeTurn(key, windowMs));
  const adapter = createDiscordAdapter({
    config: { token: discord.token, apiUrl: discord.apiUrl, guildId: discord.guildId, historyLimit: 500, shardCount },
    core: h.core,
    logger: h.logger,
    health: h.health,
    spacingMs: 20,
    shards: assignment,
  });
  h.health.enable('discord');
  await adapter.start();
  return { name, h, adapter, assignment, kill };
}

const holds = (replica: Replica) => [...replica.assignment.held()].sort();

describe.skipIf(TEST_DATABASE_URL === undefined)(`Discord shards across replicas${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase | undefined;
  let discord: FakeDiscord | undefined;
  const replicas: Replica[] = [];

  afterAll(async () => {
    for (const replica of replicas) {
      await replica.adapter.stop().catch(() => undefined);
      await replica.h.core.idle();
      await replica.adapter.close();
      await replica.h.close();
    }
    await discord?.close();
    await database?.drop();
  });

  it('splits two shards over three replicas, answers each guild from its holder, and takes a dead holder’s shard over with catch-up', { timeout: 60_000 }, async () => {
    database = await createTestDatabase();
    // Discord refuses an IDENTIFY sooner than 5 s after its bucket's last (max_concurrency 1: one bucket).
    discord = await startFakeDiscord({ shardCount: 2, identifyWindowMs: 5000 });
    const fake = discord;
    const guilds = [fake.addGuild({ shard: 0, count: 2 }), fake.addGuild({ shard: 1, count: 2 })];
    const channels = guilds.map((guild, index) => fake.addTextChannel(`general-${index}`, undefined, guild));
    const alice = fake.user('100000000000000001', 'Alice');

    // A starts alone and takes both shards; B arrives and A hands it shard 1; C finds nothing free.
    const a = await startReplica('A', fake, database.url, 2);
    replicas.push(a);
    expect(holds(a)).toEqual([0, 1]);
    const beforeB = fake.gateway.length;
    const b = await startReplica('B', fake, database.url, 2);
    replicas.push(b);
    await fake.gateway.waitFor((e) => e.kind === 'identify' && e.shard[0] === 1, 'B identifying shard 1', { since: beforeB });
    await expect.poll(() => b.h.health.get('discord')).toBe('ready');
    const c = await startReplica('C', fake, database.url, 'auto');
    replicas.push(c);
    expect([holds(a), holds(b), holds(c)]).toEqual([[0], [1], []]);
    expect(fake.sessions.connectionsPerShard(2)).toEqual(new Map([[0, 1], [1, 1]]));
    expect(await c.h.health.snapshot()).toMatchObject({ ok: true, discord: 'standby' });
    expect(await a.h.health.snapshot()).toMatchObject({ ok: true, discord: 'ready' });

    // A mention in each shard's guild: answered once, by the replica holding that shard.
    const mentions = channels.map((channel, shard) => fake.post(channel.id, alice, fake.mention(`hello shard ${shard}`)));
    for (const mention of mentions) await fake.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, `the answer to ${mention.content}`);
    for (const replica of replicas) await replica.h.core.idle();
    expect(mentions.map((mention) => fake.botMessages(mention.id).map((m) => m.content))).toEqual([['echo: hello shard 0'], ['echo: hello shard 1']]);
    expect([a, b, c].map((replica) => replica.h.anthropic.messageRequests().length)).toEqual([1, 1, 0]);

    // B dies: its lock connection drops, and it never comes back. C's takeover waits at the
    // gateway's door (GET /gateway/bot) while Alice writes in the shard nobody holds.
    const pid = await lockHolder(database.url, 1);
    const gate = fake.hold((method, path) => method === 'GET' && path === '/gateway/bot');
    const beforeKill = fake.gateway.length;
    b.kill();
    await terminate(database.url, pid);
    await fake.gateway.waitFor((e) => e.kind === 'close' && e.shard?.[0] === 1, 'B closing shard 1 once its locks are gone', { since: beforeKill });
    await expect.poll(() => b.h.health.get('discord')).toBe('standby');
    await gate.arrived;
    const restSince = fake.rest.length;
    const followUp = fake.post(mentions[1]!.id, alice, 'anyone there?');
    gate.release();
    await fake.gateway.waitFor((e) => e.kind === 'identify' && e.shard[0] === 1, 'C identifying shard 1', { since: beforeKill, timeoutMs: 30_000 });
    await expect.poll(() => c.h.health.get('discord')).toBe('ready');
    expect(holds(c)).toEqual([1]);

    const answer = await fake.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mentions[1]!.id}/messages` && r.status === 200, 'the answer to the follow-up', { since: restSince, timeoutMs: 15_000 });
    expect(answer).toBeDefined();
    for (const replica of replicas) await replica.h.core.idle();
    expect(fake.rest.entries.some((r) => r.method === 'GET' && r.path === `/channels/${mentions[1]!.id}/messages` && r.query.has('after'))).toBe(true);
    expect(fake.botMessages(mentions[1]!.id).map((m) => m.content)).toEqual(['echo: hello shard 1', `echo: ${followUp.content}`]);
    expect([a, b, c].map((replica) => replica.h.anthropic.messageRequests().length)).toEqual([1, 1, 1]);
    expect(fake.sessions.connectionsPerShard(2)).toEqual(new Map([[0, 1], [1, 1]]));

    // A stops gracefully (a deploy): it gives shard 0 back at once, and C, alone now, takes it.
    const beforeStop = fake.gateway.length;
    await a.adapter.stop();
    await fake.gateway.waitFor((e) => e.kind === 'identify' && e.shard[0] === 0, 'C identifying shard 0', { since: beforeStop, timeoutMs: 30_000 });
    await expect.poll(() => holds(c)).toEqual([0, 1]);
    await expect.poll(() => c.h.health.get('discord')).toBe('ready');
    expect(fake.sessions.connectionsPerShard(2)).toEqual(new Map([[0, 1], [1, 1]]));
    expect(fake.gateway.entries.filter((e) => e.kind === 'overlap')).toEqual([]);
    // The replicas took turns at IDENTIFY through the database: none was refused.
    expect(fake.gateway.entries.filter((e) => e.kind === 'identify_refused')).toEqual([]);
  });
});

describe('a replica holding no shard', () => {
  it('is healthy on standby and still posts, edits and cleans up answers through REST', async () => {
    const fake = await startFakeDiscord({ shardCount: 2 });
    const h = await createCoreHarness({ secrets: [fake.token] });
    const services = registeredServices(h);
    const adapter = createDiscordAdapter({
      config: { token: fake.token, apiUrl: fake.apiUrl, guildId: fake.guildId, historyLimit: 500, shardCount: 'auto' },
      core: h.core,
      logger: h.logger,
      health: h.health,
      spacingMs: 20,
      shards: NO_SHARDS,
    });
    h.health.enable('discord');
    try {
      await adapter.start();
      expect(await h.health.snapshot()).toMatchObject({ ok: true, discord: 'standby' });
      expect(fake.gateway.entries.filter((e) => e.kind === 'identify')).toEqual([]);

      const channel = fake.addTextChannel('general');
      const alice = fake.user('100000000000000001', 'Alice');
      const question = fake.seed(channel.id, alice, fake.mention('left for another replica'));
      fake.addThread(channel.id, 'a thread', question.id);
      const thread: ThreadRef = { platform: 'discord', workspaceId: fake.guildId, channelId: channel.id, threadKey: question.id };
      const sink = services().replySink?.(thread, question.id);
      if (sink === undefined) throw new Error('the adapter registered no reply sink');
      await sink.start();
      const posted = await sink.finish({ text: 'answered from the standby' });
      expect(fake.botMessages(question.id).map((m) => m.content)).toEqual(['answered from the standby']);

      const replace = services().replaceSink?.(thread, question.id, posted);
      await replace?.start();
      await replace?.finish({ text: 'regenerated from the standby' });
      expect(fake.botMessages(question.id).map((m) => m.content)).toEqual(['regenerated from the standby']);

      expect(await services().removeStrayReplies?.(thread, question.id, new Set())).toBe(1);
      expect(fake.botMessages(question.id)).toEqual([]);
    } finally {
      await adapter.stop();
      await h.core.idle();
      await adapter.close();
      await h.close();
      await fake.close();
    }
  });
});

/** The backend pid holding shard `shard`'s lock (the replica's lock connection), in this test's database: other test files on the server hold locks of the same names in theirs. */
async function lockHolder(url: string, shard: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = (await client.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = $1::int8::oid AND objid = $2::int8::oid AND objsubid = 2", [namespaceKey(NAMESPACE), shard])).rows;
    if (rows.length !== 1) throw new Error(`expected one holder of shard ${shard}, found ${rows.length}`);
    return (rows[0] as { pid: number }).pid;
  } finally {
    await client.end();
  }
}

async function terminate(url: string, pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await client.end();
  }
}
