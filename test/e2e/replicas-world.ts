/**
 * Several `npm start` processes on one PostgreSQL database, with the loopback fakes: one fake
 * Slack (HTTP mode; its events reach the replicas through `SlackEventDelivery`, a load balancer
 * with Slack's retries), one fake Discord, and a fake Messages API per replica, so what each
 * replica asked Claude is known. Replicas are started, killed (`kill -9`) and stopped (`SIGTERM`)
 * by name.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from '../fakes/discord/fake-discord.js';
import { SlackEventDelivery } from '../fakes/slack/event-delivery.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/fake-slack.js';
import { TEST_API_KEY } from '../helpers/harness.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { freePort } from '../slack/setup.js';
import { healthOf, startBot, type BotProcess } from './process.js';

export interface Replica {
  readonly name: string;
  readonly port: number;
  readonly anthropic: FakeAnthropic;
  readonly eventsUrl: string;
  /** Every process this replica ran, the current one last. */
  readonly runs: BotProcess[];
}

export interface ReplicaWorldOptions {
  readonly names: readonly string[];
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly slack: FakeSlack;
  readonly discord?: FakeDiscord;
  /** More environment for every replica (lease, shard count, limits). */
  readonly env?: Record<string, string>;
  /** The fake Messages API's pace: answers stay in flight long enough to be interrupted. */
  readonly latency?: { readonly ttftMs: number; readonly tokensPerSecond: number };
}

export class ReplicaWorld {
  readonly replicas = new Map<string, Replica>();
  readonly delivery: SlackEventDelivery;

  private constructor(private readonly options: ReplicaWorldOptions, replicas: Replica[]) {
    for (const replica of replicas) this.replicas.set(replica.name, replica);
    this.delivery = new SlackEventDelivery(options.slack, replicas.map((r) => r.eventsUrl));
  }

  static async create(options: ReplicaWorldOptions): Promise<ReplicaWorld> {
    const replicas: Replica[] = [];
    for (const name of options.names) {
      const port = await freePort();
      const anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY, ...(options.latency === undefined ? {} : { latency: options.latency }) });
      replicas.push({ name, port, anthropic, eventsUrl: `http://127.0.0.1:${port}/slack/events`, runs: [] });
    }
    return new ReplicaWorld(options, replicas);
  }

  get(name: string): Replica {
    const replica = this.replicas.get(name);
    if (replica === undefined) throw new Error(`no replica ${name}`);
    return replica;
  }

  envFor(replica: Replica): Record<string, string> {
    const { slack, discord } = this.options;
    return {
      ANTHROPIC_API_KEY: TEST_API_KEY,
      ANTHROPIC_BASE_URL: replica.anthropic.url,
      PORT: String(replica.port),
      PLAYGROUND: 'off',
      DATABASE_URL: this.options.databaseUrl,
      // Never used (DATABASE_URL wins), but a stray SQLite file would show up here.
      DATABASE_PATH: `${this.options.dataDir}/${replica.name}/threadline.db`,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: slack.apiUrl,
      ...(discord === undefined ? {} : { DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl }),
      ...this.options.env,
    };
  }

  /** Starts the replica's process; resolves once its `/healthz` answers 200. */
  async start(name: string): Promise<BotProcess> {
    const replica = this.get(name);
    const bot = startBot(this.envFor(replica));
    replica.runs.push(bot);
    const exited = bot.exited.then((how) => {
      throw new Error(`replica ${name} exited while starting (${JSON.stringify(how)}):\n${bot.output.join('').slice(-3000)}`);
    });
    const healthy = (async () => {
      for (;;) {
        if ((await healthOf(replica.port))?.status === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await Promise.race([healthy, exited]);
    exited.catch(() => undefined);
    return bot;
  }

  current(name: string): BotProcess {
    const bot = this.get(name).runs.at(-1);
    if (bot === undefined) throw new Error(`replica ${name} never started`);
    return bot;
  }

  /** `kill -9`: no shutdown at all, leases and shards left as they were. */
  async kill(name: string): Promise<void> {
    const bot = this.current(name);
    bot.child.kill('SIGKILL');
    await bot.exited;
  }

  /** SIGTERM: a graceful stop; resolves with the exit code. */
  async stop(name: string): Promise<number | null> {
    const bot = this.current(name);
    bot.child.kill('SIGTERM');
    return (await bot.exited).code;
  }

  async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** The Discord shards the replica's current process holds, from its log ("took" / "gave up a Discord shard"). */
  shardsOf(name: string): number[] {
    const held = new Set<number>();
    for (const line of this.current(name).output.join('').split('\n')) {
      if (!line.includes('Discord shard')) continue;
      try {
        const entry = JSON.parse(line) as { msg?: string; shard?: number };
        if (entry.shard === undefined) continue;
        if (entry.msg === 'took a Discord shard') held.add(entry.shard);
        if (entry.msg === 'gave up a Discord shard') held.delete(entry.shard);
      } catch {
        // Not a log line of ours.
      }
    }
    return [...held].sort();
  }

  /** The replica's Discord state from `/healthz`: `ready` once READY came on every shard it holds. */
  async discordState(name: string): Promise<string | undefined> {
    const health = await healthOf(this.get(name).port);
    return (health?.body as { discord?: string } | undefined)?.discord;
  }

  /** Every process's log, for a failure message. */
  logs(): string {
    return [...this.replicas.values()].flatMap((r) => r.runs.map((run, i) => `--- ${r.name} run ${i + 1}\n${run.output.join('').slice(-4000)}`)).join('\n');
  }

  async close(): Promise<void> {
    for (const replica of this.replicas.values()) {
      for (const run of replica.runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      await Promise.all(replica.runs.map((run) => run.exited));
      await replica.anthropic.close();
    }
  }
}

/** A world with everything around it: a throwaway database and data directory, the fake Slack and Discord. */
export interface ReplicaStage {
  readonly world: ReplicaWorld;
  readonly slack: FakeSlack;
  readonly discord: FakeDiscord;
  /** Stops the replicas, the fakes, drops the database and removes the directory. */
  close(): Promise<void>;
}

/** Sets a stage up (what was set up is torn down again if a later step fails). */
export async function openReplicaStage(
  options: Omit<ReplicaWorldOptions, 'databaseUrl' | 'dataDir' | 'slack' | 'discord'> & { readonly discord: FakeDiscordOptions },
): Promise<ReplicaStage> {
  const teardown: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const step of teardown.reverse()) await step();
  };
  try {
    const database = await createTestDatabase();
    teardown.push(() => database.drop());
    const dataDir = mkdtempSync(join(tmpdir(), 'threadline-replicas-'));
    teardown.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const slack = await startFakeSlack();
    teardown.push(() => slack.close());
    const discord = await startFakeDiscord(options.discord);
    teardown.push(() => discord.close());
    const world = await ReplicaWorld.create({ ...options, databaseUrl: database.url, dataDir, slack, discord });
    teardown.push(() => world.close());
    return { world, slack, discord, close };
  } catch (error) {
    await close();
    throw error;
  }
}
