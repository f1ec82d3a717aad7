/** The real Discord adapter (discord.js) on the real core, against the fake Discord and fake Messages API. */
import type { WriteBudget } from '../../src/core/concurrency/write-scheduler.js';
import { createDiscordAdapter, type DiscordAdapter } from '../../src/adapters/discord/index.js';
import { startFakeDiscord, type FakeChannel, type FakeDiscord, type FakeDiscordOptions, type FakeUser } from '../fakes/discord/fake-discord.js';
import type { PlatformServices } from '../../src/core/types.js';
import type { ShardAssignment } from '../../src/core/shards/shard-assignment.js';
import { createCoreHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';

export interface DiscordWorld {
  readonly discord: FakeDiscord;
  readonly h: Harness;
  readonly adapter: DiscordAdapter;
  readonly general: FakeChannel;
  readonly alice: FakeUser;
  readonly bob: FakeUser;
  close(): Promise<void>;
}

export type DiscordWorldOptions = HarnessOptions & { spacingMs?: number; writeBudget?: WriteBudget; historyLimit?: number; answerMissedWithinMs?: number; shardCount?: number | 'auto'; before?: (discord: FakeDiscord) => void; fake?: FakeDiscordOptions; /** An already running fake (a restart of the bot against the same Discord); left running on close. */ discord?: FakeDiscord };

/** The bot alone (core and Discord adapter, started) against a Discord at `discord` (the fake here, or one in another process). */
export async function startDiscordBot(
  discord: { readonly token: string; readonly apiUrl: string; readonly guildId: string },
  options: Omit<DiscordWorldOptions, 'before' | 'fake' | 'discord'> = {},
): Promise<{ readonly h: Harness; readonly adapter: DiscordAdapter; close(): Promise<void> }> {
  const h = await createCoreHarness({ ...options, secrets: [discord.token, ...(options.secrets ?? [])] });
  const adapter = createDiscordAdapter({
    config: { token: discord.token, apiUrl: discord.apiUrl, guildId: discord.guildId, historyLimit: options.historyLimit ?? 500, shardCount: options.shardCount ?? 'auto' },
    core: h.core,
    logger: h.logger,
    health: h.health,
    spacingMs: options.spacingMs ?? 20,
    ...(options.answerMissedWithinMs === undefined ? {} : { answerMissedWithinMs: options.answerMissedWithinMs }),
    ...(options.writeBudget === undefined ? {} : { writeBudget: options.writeBudget }),
  });
  h.health.enable('discord');
  await adapter.start();
  return {
    h,
    adapter,
    async close() {
      await adapter.stop();
      await h.core.idle();
      await adapter.close();
      await h.close();
    },
  };
}

export async function startDiscordWorld(options: DiscordWorldOptions = {}): Promise<DiscordWorld> {
  const discord = options.discord ?? (await startFakeDiscord(options.fake));
  const general = options.discord === undefined ? discord.addTextChannel('general') : ([...discord.channels.values()].find((c) => c.name === 'general') as FakeChannel);
  options.before?.(discord);
  const bot = await startDiscordBot(discord, options);
  return {
    discord,
    h: bot.h,
    adapter: bot.adapter,
    general,
    alice: discord.user('100000000000000001', 'Alice'),
    bob: discord.user('100000000000000002', 'Bob'),
    async close() {
      await bot.close();
      if (options.discord === undefined) await discord.close();
    },
  };
}

/** A replica that holds no shard: it posts through REST alone. */
export const NO_SHARDS: ShardAssignment = { start: async () => undefined, close: async () => undefined };

/** What the adapter registers with `h`'s core, once it has: call before the adapter starts. */
export function registeredServices(h: Harness): () => PlatformServices {
  let services: PlatformServices | undefined;
  const register = h.core.registerPlatform.bind(h.core);
  h.core.registerPlatform = (platform, given) => {
    services = given;
    register(platform, given);
  };
  return () => {
    if (services === undefined) throw new Error('the adapter registered no platform services');
    return services;
  };
}
