/**
 * One discord.js Client per gateway shard this replica holds (`shards: [id]`, `shardCount`), so
 * taking a shard over or giving one up never touches the others. A shard given up stops its
 * gateway at once but keeps its REST side until the adapter closes: an answer streaming in one of
 * its guilds still posts. A separate REST-only client posts where no shard of ours is connected
 * (a reply job taken over from a replica that died, in a guild another replica now serves).
 */
import { Client, Events, GatewayIntentBits, Partials, type ClientOptions } from 'discord.js';
import type { Logger } from 'pino';
import type { ShardRunner } from '../../core/shards/shard-assignment.js';
import { ThreadlineError } from '../../errors.js';
import { IdentifyGate } from './identify-gate.js';

export type DiscordState = 'ready' | 'connecting' | 'standby';

/** The shard of `count` that serves a guild (`dm` and other guild-less conversations: shard 0). */
export function shardOfGuild(guildId: string | null, count: number): number {
  if (guildId === null || !/^\d+$/.test(guildId)) return 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(count));
}

/** A Client as the bot uses it; `extra` picks shards. */
export function createClient(apiUrl: string | undefined, extra: Partial<ClientOptions> = {}): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel, Partials.Message],
    allowedMentions: { parse: [], repliedUser: false },
    ...(apiUrl === undefined ? {} : { rest: { api: apiUrl } }),
    ...extra,
  });
}

export interface ShardClientsOptions {
  readonly token: string;
  readonly apiUrl: string | undefined;
  readonly logger: Logger;
  /** Adds the adapter's event handlers to a new shard's client. */
  readonly wire: (client: Client, shard: number) => void;
  /** Called whenever a shard connects, becomes ready or stops. */
  readonly changed: () => void;
}

export class ShardClients implements ShardRunner {
  private readonly clients = new Map<number, Client>();
  private readonly ready = new Set<number>();
  /** Ends the wait for READY of a shard given up meanwhile (its run resolves: nothing failed). */
  private readonly abandon = new Map<number, () => void>();
  /** Clients of shards given up: their REST still serves answers in flight until close. */
  private readonly retired: Client[] = [];
  count = 1;
  /** Shared by every shard's client; `max_concurrency` from `GET /gateway/bot`. */
  identifyGate = new IdentifyGate(1);

  constructor(private readonly options: ShardClientsOptions) {}

  async run(shard: number): Promise<void> {
    const gate = this.identifyGate;
    const client = createClient(this.options.apiUrl, { shards: [shard], shardCount: this.count, ws: { buildIdentifyThrottler: () => gate } });
    this.options.wire(client, shard);
    client.on(Events.ShardReady, () => this.markReady(shard, true));
    client.on(Events.ShardResume, () => this.markReady(shard, true));
    client.on(Events.ShardDisconnect, () => this.markReady(shard, false));
    client.on(Events.ShardReconnecting, () => this.markReady(shard, false));
    this.clients.set(shard, client);
    this.options.changed();
    const ready = new Promise<void>((resolve) => {
      client.once(Events.ClientReady, () => resolve());
      this.abandon.set(shard, resolve);
    });
    try {
      await client.login(this.options.token);
    } catch (error) {
      throw new ThreadlineError('config_invalid', `Discord login failed (check DISCORD_TOKEN): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    await ready;
    this.abandon.delete(shard);
    if (this.clients.get(shard) !== client) return;
    this.options.logger.info({ shard, count: this.count, guilds: client.guilds.cache.size }, 'Discord shard connected');
  }

  async stop(shard: number): Promise<void> {
    const client = this.clients.get(shard);
    if (client === undefined) return;
    this.clients.delete(shard);
    this.ready.delete(shard);
    this.abandon.get(shard)?.();
    this.abandon.delete(shard);
    // No more events from it; the gateway closes, the REST side stays for answers in flight.
    client.removeAllListeners();
    client.on(Events.Error, () => undefined);
    this.retired.push(client);
    await (client.ws as unknown as { destroy(): Promise<void> }).destroy();
    this.options.changed();
  }

  /** The client of the shard serving `guildId`, when this replica holds it and has the guild. */
  forGuild(guildId: string | null): Client | undefined {
    const client = this.clients.get(shardOfGuild(guildId, this.count));
    if (client === undefined) return undefined;
    return guildId === null || guildId === 'dm' || client.guilds.cache.has(guildId) ? client : undefined;
  }

  /** Held shards' clients, lowest shard first. */
  all(): Client[] {
    return [...this.clients].sort(([a], [b]) => a - b).map(([, client]) => client);
  }

  state(): DiscordState {
    if (this.clients.size === 0) return 'standby';
    return [...this.clients.keys()].every((shard) => this.ready.has(shard)) ? 'ready' : 'connecting';
  }

  /** Destroys every client, held or retired: nothing posts afterwards. */
  async destroyAll(): Promise<void> {
    const clients = [...this.clients.values(), ...this.retired.splice(0)];
    this.clients.clear();
    this.ready.clear();
    await Promise.allSettled(clients.map((client) => client.destroy()));
  }

  private markReady(shard: number, ready: boolean): void {
    if (!this.clients.has(shard)) return;
    if (ready) this.ready.add(shard);
    else this.ready.delete(shard);
    this.options.changed();
  }
}
