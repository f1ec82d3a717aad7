/**
 * The fake gateway's sessions, one per IDENTIFY, each for one shard `[id, count]` (`[0, 1]` when
 * the client names none). A session receives the dispatches of the guilds its shard serves,
 * `(guild_id >> 22) % count === id`, and guild-less ones (DMs) on shard 0 only, as Discord routes
 * them. A session outlives its socket until the shard identifies afresh, so a RESUME replays what
 * it missed. A second live connection for a shard that already has one is logged as `overlap`
 * (Discord would deliver to both: a test asserts none happened).
 */
import type { WebSocket } from 'ws';
import type { EventLog } from './event-log.js';

export type ShardSpec = readonly [id: number, count: number];

export type GatewayEvent =
  | { readonly kind: 'connect'; readonly at: number }
  | { readonly kind: 'identify'; readonly at: number; readonly shard: ShardSpec; readonly sessionId: string; readonly guilds: readonly string[] }
  /** An IDENTIFY sooner than its bucket's window allows (FakeDiscordOptions.identifyWindowMs): answered op 9. */
  | { readonly kind: 'identify_refused'; readonly at: number; readonly shard: ShardSpec }
  | { readonly kind: 'resume'; readonly at: number; readonly shard: ShardSpec }
  | { readonly kind: 'close'; readonly at: number; readonly code: number; readonly shard?: ShardSpec }
  | { readonly kind: 'overlap'; readonly at: number; readonly shard: ShardSpec };

/** The shard of `count` that receives a guild's events (guild-less events: shard 0). */
export function shardOfGuild(guildId: string | undefined, count: number): number {
  return guildId === undefined ? 0 : Number((BigInt(guildId) >> 22n) % BigInt(count));
}

let guildSequence = 0n;

/** A new snowflake-like guild id that shard `shard` of `count` serves. */
export function guildIdOnShard(shard: number, count: number): string {
  guildSequence += 1n;
  // Distinct timestamps well inside the snowflake range; the low bits (worker, sequence) are free.
  const base = (1n << 40n) + guildSequence * BigInt(count);
  const timestamp = base - (base % BigInt(count)) + BigInt(shard);
  return String((timestamp << 22n) | guildSequence);
}

export class GatewaySession {
  seq = 0;
  readonly log: Array<{ readonly s: number; readonly frame: string }> = [];

  constructor(
    readonly id: string,
    readonly shard: ShardSpec,
    public socket: WebSocket | undefined,
  ) {}

  serves(guildId: string | undefined): boolean {
    return shardOfGuild(guildId, this.shard[1]) === this.shard[0];
  }

  /** The frame for a dispatch, numbered and kept for a RESUME. */
  frame(type: string, data: unknown): string {
    this.seq += 1;
    const frame = JSON.stringify({ op: 0, t: type, s: this.seq, d: data });
    this.log.push({ s: this.seq, frame });
    return frame;
  }
}

export class GatewaySessions {
  private sessions: GatewaySession[] = [];

  constructor(private readonly events: EventLog<GatewayEvent>) {}

  /** Sessions with a connection now. */
  live(): GatewaySession[] {
    return this.sessions.filter((session) => session.socket !== undefined);
  }

  /** Sessions that receive a dispatch about `guildId` (connected or waiting for a RESUME). */
  routeTo(guildId: string | undefined): GatewaySession[] {
    return this.sessions.filter((session) => session.serves(guildId));
  }

  /** Live connections per shard id (for `count`), e.g. `{0: 1, 1: 1}`. */
  connectionsPerShard(count: number): Map<number, number> {
    const counts = new Map<number, number>();
    for (const session of this.live()) if (session.shard[1] === count) counts.set(session.shard[0], (counts.get(session.shard[0]) ?? 0) + 1);
    return counts;
  }

  /** A fresh session for `shard` on `socket`: earlier unconnected sessions of the shard end. */
  identify(socket: WebSocket, shard: ShardSpec, sessionId: string, guilds: readonly string[]): GatewaySession {
    // A socket identifies once; a re-IDENTIFY on the same socket replaces its session.
    this.sessions = this.sessions.filter((session) => session.socket !== socket && !(sameShard(session.shard, shard) && session.socket === undefined));
    if (this.sessions.some((session) => sameShard(session.shard, shard))) this.events.push({ kind: 'overlap', at: Date.now(), shard });
    const session = new GatewaySession(sessionId, shard, socket);
    this.sessions.push(session);
    this.events.push({ kind: 'identify', at: Date.now(), shard, sessionId, guilds });
    return session;
  }

  /** The session `sessionId` on its new socket, or undefined when it is gone (op 9). */
  resume(socket: WebSocket, sessionId: string | undefined): GatewaySession | undefined {
    const session = this.sessions.find((candidate) => candidate.id === sessionId);
    if (session === undefined) return undefined;
    session.socket = socket;
    this.events.push({ kind: 'resume', at: Date.now(), shard: session.shard });
    return session;
  }

  closed(socket: WebSocket, code: number): void {
    const session = this.sessions.find((candidate) => candidate.socket === socket);
    if (session !== undefined) session.socket = undefined;
    this.events.push({ kind: 'close', at: Date.now(), code, ...(session === undefined ? {} : { shard: session.shard }) });
  }

  /** The live sockets of every session, or of one shard id's. */
  sockets(shardId?: number): WebSocket[] {
    return this.live()
      .filter((session) => shardId === undefined || session.shard[0] === shardId)
      .map((session) => session.socket as WebSocket);
  }
}

function sameShard(a: ShardSpec, b: ShardSpec): boolean {
  return a[0] === b[0] && a[1] === b[1];
}
