/**
 * A loopback Discord: REST under `/api/v10` and a JSON gateway on the same port, speaking enough
 * of both for the real discord.js 14 to log in, receive messages and interactions, post, edit,
 * start threads, read history and refresh attachment URLs. It keeps channels and messages, so
 * history reads return what was posted, and logs every request and gateway event so tests wait
 * on what they expect instead of sleeping.
 */
import { buffer as readBody } from 'node:stream/consumers';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventLog } from './event-log.js';
import { GatewaySessions, guildIdOnShard, shardOfGuild as shardOfGuildId, type GatewayEvent, type GatewaySession, type ShardSpec } from './gateway-sessions.js';

export { guildIdOnShard, shardOfGuild, type GatewayEvent, type ShardSpec } from './gateway-sessions.js';

const DISCORD_EPOCH = 1420070400000n;
let sequence = 0n;

/** Snowflakes that sort by creation time, like Discord's. */
export function snowflake(at = Date.now()): string {
  sequence = (sequence + 1n) % 4096n;
  return String(((BigInt(at) - DISCORD_EPOCH) << 22n) | sequence);
}

export interface FakeUser {
  readonly id: string;
  readonly username: string;
  readonly global_name: string | null;
  readonly bot?: boolean;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  content_type?: string;
  size: number;
  url: string;
  proxy_url: string;
  width?: number;
  height?: number;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: FakeUser;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  attachments: FakeAttachment[];
  mentions: FakeUser[];
  mention_roles: string[];
  mention_everyone: boolean;
  message_reference?: { message_id: string; channel_id?: string; guild_id?: string };
  channel_type?: number;
  allowed_mentions?: unknown;
  type: number;
  flags: number;
  embeds: unknown[];
  /** Action rows with buttons, as the bot last set them. */
  components?: unknown[];
  tts: false;
  pinned: false;
}

export interface FakeChannel {
  id: string;
  type: number;
  guild_id?: string;
  name?: string;
  parent_id?: string | null;
  owner_id?: string;
  recipients?: FakeUser[];
  thread_metadata?: { archived: boolean; auto_archive_duration: number; archive_timestamp: string; locked: boolean };
  position?: number;
  permission_overwrites?: unknown[];
}

export interface RestRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly at: number;
  status: number;
}

export interface FakeDiscordOptions {
  /** Answer 429 to message creates, edits and deletes past 5 per 5 s in one channel, as Discord does. */
  readonly enforceRateLimits?: boolean;
  /**
   * Discord's global limit: at most this many REST requests from the bot in any second
   * (interactions and webhooks exempt), beyond it a 429 with `x-ratelimit-global`. Discord's is 50.
   */
  readonly globalRequestsPerSecond?: number;
  readonly token?: string;
  readonly botId?: string;
  readonly applicationId?: string;
  readonly guildId?: string;
  /** `shards` in `GET /gateway/bot` (Discord's recommendation); default 1. */
  readonly shardCount?: number;
  /** `session_start_limit.max_concurrency` in `GET /gateway/bot`: IDENTIFYs per 5 s a bot may start; default 1. */
  readonly maxConcurrency?: number;
  /**
   * Refuses an IDENTIFY that comes sooner than this after the last one its bucket (shard id %
   * max_concurrency) accepted, as Discord does: op 9, logged as `identify_refused`, counted
   * against nothing else. Discord's window is 5 s; unset, every IDENTIFY is accepted.
   */
  readonly identifyWindowMs?: number;
}

export interface FakeRole {
  readonly id: string;
  readonly name: string;
  readonly permissions: string;
  readonly position: number;
  readonly color: number;
  readonly hoist: boolean;
  readonly managed: boolean;
  readonly mentionable: boolean;
  readonly flags: number;
}

export const CHANNEL = { GuildText: 0, DM: 1, PublicThread: 11 } as const;

export class FakeDiscord {
  readonly token: string;
  readonly bot: FakeUser;
  readonly applicationId: string;
  readonly guildId: string;
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage[]>();
  readonly rest = new EventLog<RestRequest>((r) => `${r.status} ${r.method} ${r.path}`);
  readonly gateway = new EventLog<GatewayEvent>((e) => e.kind);
  /** Attachment URLs that refresh-urls must not refresh (e.g. deleted files). */
  readonly unrefreshable = new Set<string>();
  /** Channels where posting answers 403 Missing Permissions. */
  readonly forbiddenChannels = new Set<string>();
  /** Channels where starting a thread answers 403 Missing Permissions (no Create Public Threads). */
  readonly threadlessChannels = new Set<string>();
  /** Every guild the bot is in: the default `guildId` first, then `addGuild`'s. */
  readonly guilds: string[] = [];
  /** Recommended shards, answered by `GET /gateway/bot` (a test may change it). */
  shardCount: number;
  readonly maxConcurrency: number;
  private readonly identifyWindowMs: number | undefined;
  /** When each IDENTIFY bucket last started a session, for `identifyWindowMs`. */
  private readonly lastIdentify = new Map<number, number>();
  /** The default guild's roles (`@everyone` first); `addRole` adds more. */
  readonly roles: FakeRole[] = [];
  /** Role ids per user id, sent as `member.roles` with their messages and interactions. */
  readonly memberRoles = new Map<string, string[]>();
  private readonly enforceRateLimits: boolean;
  private readonly globalRequestsPerSecond: number | undefined;
  /** Arrival times of the bot's REST requests in the last second, for `globalRequestsPerSecond`. */
  private readonly globalWindow: number[] = [];
  /** Recent message writes per channel, for `enforceRateLimits`. */
  private readonly channelWrites = new Map<string, number[]>();
  private readonly rateLimits: Array<{ match: (method: string, path: string) => boolean; remaining: number; retryAfter: number }> = [];
  private server!: Server;
  private wss!: WebSocketServer;
  /** Gateway sessions, one per IDENTIFY (per shard): see gateway-sessions.ts. */
  readonly sessions = new GatewaySessions(this.gateway);
  port = 0;

  constructor(options: FakeDiscordOptions = {}) {
    this.token = options.token ?? 'fake-discord-token.abc.def';
    this.bot = { id: options.botId ?? '900000000000000001', username: 'threadline', global_name: 'threadline', bot: true };
    this.applicationId = options.applicationId ?? this.bot.id;
    this.guildId = options.guildId ?? '800000000000000001';
    this.guilds.push(this.guildId);
    this.shardCount = options.shardCount ?? 1;
    this.maxConcurrency = options.maxConcurrency ?? 1;
    this.identifyWindowMs = options.identifyWindowMs;
    this.enforceRateLimits = options.enforceRateLimits ?? false;
    this.roles.push({ id: this.guildId, name: '@everyone', permissions: '2248473465835073', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 });
    this.globalRequestsPerSecond = options.globalRequestsPerSecond;
  }

  /** REST base without the version, as DISCORD_API_URL takes it. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handleRest(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: '/gateway' });
    this.wss.on('connection', (socket) => this.onConnection(socket));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- world state ------------------------------------------------------------------------

  user(id: string, name: string, bot = false): FakeUser {
    return { id, username: name.toLowerCase(), global_name: name, ...(bot ? { bot: true } : {}) };
  }

  /** Another guild the bot is in; `{ shard, count }` picks an id that shard serves. */
  addGuild(where: { readonly shard: number; readonly count: number } | string = snowflake()): string {
    const id = typeof where === 'string' ? where : guildIdOnShard(where.shard, where.count);
    this.guilds.push(id);
    return id;
  }

  addTextChannel(name: string, id = snowflake(), guildId = this.guildId): FakeChannel {
    const channel: FakeChannel = { id, type: CHANNEL.GuildText, guild_id: guildId, name, parent_id: null, position: 0, permission_overwrites: [] };
    this.channels.set(id, channel);
    this.messages.set(id, []);
    if (this.connected) this.dispatch('CHANNEL_CREATE', channel);
    return channel;
  }

  /** Whether any gateway connection is up. */
  get connected(): boolean {
    return this.sessions.live().length > 0;
  }

  /** A thread that exists before the bot connects (sent in GUILD_CREATE) or, after, via THREAD_CREATE. */
  addThread(parentId: string, name: string, id = snowflake(), announce = true): FakeChannel {
    const thread: FakeChannel = {
      id,
      type: CHANNEL.PublicThread,
      guild_id: this.channels.get(parentId)?.guild_id ?? this.guildId,
      name,
      parent_id: parentId,
      owner_id: '1',
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
    };
    this.channels.set(id, thread);
    if (!this.messages.has(id)) this.messages.set(id, []);
    if (announce && this.connected) this.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
    return thread;
  }

  addDm(user: FakeUser, id = snowflake()): FakeChannel {
    const channel: FakeChannel = { id, type: CHANNEL.DM, recipients: [user] };
    this.channels.set(id, channel);
    this.messages.set(id, []);
    return channel;
  }

  /** Stores a message without dispatching it (history that existed before the bot looked). */
  seed(channelId: string, author: FakeUser, content: string, extra: Partial<FakeMessage> = {}): FakeMessage {
    const message = this.makeMessage(channelId, author, content, extra);
    this.messages.get(channelId)?.push(message);
    return message;
  }

  /** A user posts: stored and dispatched as MESSAGE_CREATE. */
  post(channelId: string, author: FakeUser, content: string, extra: Partial<FakeMessage> = {}): FakeMessage {
    const message = this.seed(channelId, author, content, extra);
    this.dispatch('MESSAGE_CREATE', this.withMember(message));
    return message;
  }

  /** `content` mentioning the bot, as a client would write it. */
  mention(text: string): string {
    return `<@${this.bot.id}> ${text}`;
  }

  edit(channelId: string, messageId: string, content: string): void {
    const message = this.find(channelId, messageId);
    if (message === undefined) throw new Error(`no message ${messageId}`);
    message.content = content;
    message.edited_timestamp = new Date().toISOString();
    this.dispatch('MESSAGE_UPDATE', this.withMember(message));
  }

  /** A message deleted: MESSAGE_DELETE, unless `announce` is false (an event the bot never received). */
  remove(channelId: string, messageId: string, announce = true): void {
    const list = this.messages.get(channelId) ?? [];
    const index = list.findIndex((m) => m.id === messageId);
    if (index >= 0) list.splice(index, 1);
    if (!announce) return;
    const channel = this.channels.get(channelId);
    this.dispatch('MESSAGE_DELETE', { id: messageId, channel_id: channelId, ...(channel?.guild_id ? { guild_id: channel.guild_id } : {}) });
  }

  find(channelId: string, messageId: string): FakeMessage | undefined {
    return this.messages.get(channelId)?.find((m) => m.id === messageId);
  }

  /** Messages the bot posted in a channel, oldest first. */
  botMessages(channelId: string): FakeMessage[] {
    return (this.messages.get(channelId) ?? []).filter((m) => m.author.id === this.bot.id);
  }

  /** Bytes the fake CDN serves, by attachment id (PNG bytes when none are given). */
  readonly cdn = new Map<string, { bytes: Buffer; contentType: string }>();

  /** A signed CDN-style attachment served by this fake (ex = expiry). */
  attachment(
    filename: string,
    contentType: string,
    options: { expiresAt?: number; size?: number; width?: number; height?: number; bytes?: Buffer } = {},
  ): FakeAttachment {
    const id = snowflake();
    if (options.bytes !== undefined) this.cdn.set(id, { bytes: options.bytes, contentType });
    const ex = Math.floor((options.expiresAt ?? Date.now() + 24 * 3600_000) / 1000).toString(16);
    const url = `http://127.0.0.1:${this.port}/attachments/${id}/${encodeURIComponent(filename)}?ex=${ex}&is=0&hm=sig${id}&`;
    return {
      id,
      filename,
      content_type: contentType,
      size: options.size ?? options.bytes?.length ?? 1000,
      url,
      proxy_url: url,
      ...(options.width === undefined ? {} : { width: options.width, height: options.height ?? options.width }),
    };
  }

  // ---- failure injection -------------------------------------------------------------------

  /** The next `count` requests matching answer 429 with Discord's rate-limit headers. */
  rateLimit(match: (method: string, path: string) => boolean, count = 1, retryAfter = 0.05): void {
    this.rateLimits.push({ match, remaining: count, retryAfter });
  }

  private readonly holds: Array<{ match: (method: string, path: string) => boolean; arrived: () => void; released: Promise<void> }> = [];

  /**
   * Holds the answer to the next matching request (computed when it arrives) until `release`:
   * a slow history read, say. `arrived` resolves once that request has come in.
   */
  hold(match: (method: string, path: string) => boolean): { arrived: Promise<void>; release: () => void } {
    let arrived!: () => void;
    let release!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.holds.push({ match, arrived, released });
    return { arrived: arrival, release };
  }

  /** op 9 with d=false: the session is gone; the client must IDENTIFY afresh (missed events are lost). Every shard, or one. */
  invalidateSession(shard?: number): void {
    for (const socket of this.sessions.sockets(shard)) socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
  }

  /** op 7: reconnect and RESUME. Every shard, or one. */
  requestReconnect(shard?: number): void {
    for (const socket of this.sessions.sockets(shard)) socket.send(JSON.stringify({ op: 7, d: null, s: null, t: null }));
  }

  /** Drops the TCP connection without a close frame. Every shard, or one. */
  dropConnection(shard?: number): void {
    for (const socket of this.sessions.sockets(shard)) socket.terminate();
  }

  /** A guild role (dispatched as GUILD_ROLE_CREATE when connected); returns its id. */
  addRole(name: string, permissions = 0n): string {
    const role: FakeRole = { id: snowflake(), name, permissions: String(permissions), position: this.roles.length, color: 0, hoist: false, managed: false, mentionable: true, flags: 0 };
    this.roles.push(role);
    if (this.connected) this.dispatch('GUILD_ROLE_CREATE', { guild_id: this.guildId, role });
    return role.id;
  }

  giveRole(user: FakeUser, roleId: string): void {
    this.memberRoles.set(user.id, [...(this.memberRoles.get(user.id) ?? []), roleId]);
  }

  /** Dispatches a slash command interaction (`type` 4: autocomplete); returns its id and token for matching requests. */
  interaction(
    channelId: string,
    user: FakeUser,
    name: string,
    options: unknown[],
    permissions: bigint,
    resolved?: Record<string, unknown>,
    type = 2,
  ): { id: string; token: string } {
    const id = snowflake();
    const token = `interaction-token-${id}`;
    const channel = this.channels.get(channelId);
    this.dispatch('INTERACTION_CREATE', {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      locale: 'en-US',
      guild_locale: 'en-US',
      app_permissions: '2248473465835073',
      entitlements: [],
      authorizing_integration_owners: {},
      context: 0,
      channel_id: channelId,
      channel,
      ...(channel?.guild_id === undefined
        ? { user }
        : { guild_id: channel.guild_id, member: { user, roles: this.memberRoles.get(user.id) ?? [], permissions: String(permissions), joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } }),
      data: { id: snowflake(), name, type: 1, options, ...(resolved === undefined ? {} : { resolved }) },
    });
    return { id, token };
  }

  /** The custom ids of the buttons on a message, in order. */
  buttonIds(message: FakeMessage): string[] {
    return (message.components ?? []).flatMap((row) => ((row as { components?: Array<{ custom_id?: string }> }).components ?? []).map((button) => String(button.custom_id)));
  }

  /**
   * A person presses a button on a message: INTERACTION_CREATE type 3 (MESSAGE_COMPONENT) with
   * the message and the presser's member permissions, as Discord sends it. Returns the
   * interaction's id and token: its callback is `POST /interactions/{id}/{token}/callback`.
   */
  pressButton(message: FakeMessage, customId: string, user: FakeUser, permissions = 0n): { id: string; token: string } {
    const id = snowflake();
    const token = `interaction-token-${id}`;
    const channel = this.channels.get(message.channel_id);
    this.dispatch('INTERACTION_CREATE', {
      id,
      application_id: this.applicationId,
      type: 3,
      token,
      version: 1,
      locale: 'en-US',
      app_permissions: '2248473465835073',
      entitlements: [],
      authorizing_integration_owners: {},
      context: 0,
      channel_id: message.channel_id,
      channel,
      message,
      ...(channel?.guild_id === undefined
        ? { user }
        : { guild_id: channel.guild_id, guild_locale: 'en-US', member: { user, roles: [], permissions: String(permissions), joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } }),
      data: { component_type: 2, custom_id: customId },
    });
    return { id, token };
  }

  /** The callback the bot gave an interaction (waits for it): its type and data. */
  async callbackOf(interaction: { id: string; token: string }): Promise<{ type: number; data?: { content?: string; flags?: number } }> {
    const entry = await this.rest.waitFor((r) => r.method === 'POST' && r.path === `/interactions/${interaction.id}/${interaction.token}/callback`, 'interaction callback');
    return entry.body as { type: number; data?: { content?: string; flags?: number } };
  }

  // ---- gateway -------------------------------------------------------------------------------

  /** Sends a dispatch to the sessions of the shard its guild belongs to (guild-less: shard 0). */
  dispatch(type: string, data: unknown): void {
    const guildId = (data as { guild_id?: unknown } | null)?.guild_id;
    for (const session of this.sessions.routeTo(typeof guildId === 'string' ? guildId : undefined)) this.sendTo(session, type, data);
  }

  private sendTo(session: GatewaySession, type: string, data: unknown): void {
    // Kept while disconnected too: a RESUME replays it.
    const frame = session.frame(type, data);
    if (this.batched !== undefined) this.batched.push({ session, frame });
    else session.socket?.send(frame);
  }

  private batched: Array<{ session: GatewaySession; frame: string }> | undefined;

  /**
   * Dispatches everything `events` posts, edits or removes back to back in one socket write, as
   * Discord does when events pile up: the client reads them in one go (a message created and
   * deleted within milliseconds).
   */
  batch(events: () => void): void {
    this.batched = [];
    try {
      events();
    } finally {
      const frames = this.batched;
      this.batched = undefined;
      const raws = new Set(frames.map(({ session }) => (session.socket as unknown as { _socket?: { cork(): void; uncork(): void } } | undefined)?._socket));
      for (const raw of raws) raw?.cork();
      for (const { session, frame } of frames) session.socket?.send(frame);
      for (const raw of raws) raw?.uncork();
    }
  }

  private onConnection(socket: WebSocket): void {
    this.gateway.push({ kind: 'connect', at: Date.now() });
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null }));
    socket.on('close', (code) => this.sessions.closed(socket, code));
    socket.on('message', (raw) => {
      const payload = JSON.parse(String(raw)) as { op: number; d: unknown };
      if (payload.op === 1) socket.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
      if (payload.op === 2) this.onIdentify(socket, (payload.d as { shard?: [number, number] } | null)?.shard ?? [0, 1]);
      if (payload.op === 6) this.onResume(socket, payload.d as { session_id?: string; seq?: number | null });
    });
  }

  private onIdentify(socket: WebSocket, shard: ShardSpec): void {
    const bucket = shard[0] % Math.max(1, this.maxConcurrency);
    const now = Date.now();
    const last = this.lastIdentify.get(bucket);
    if (this.identifyWindowMs !== undefined && last !== undefined && now - last < this.identifyWindowMs) {
      this.gateway.push({ kind: 'identify_refused', at: now, shard });
      socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
      return;
    }
    this.lastIdentify.set(bucket, now);
    const guilds = this.guilds.filter((id) => shardOfGuildId(id, shard[1]) === shard[0]);
    const session = this.sessions.identify(socket, shard, `session-${snowflake()}`, guilds);
    this.sendTo(session, 'READY', {
      v: 10,
      user: { ...this.bot, discriminator: '0', avatar: null, verified: true, flags: 0 },
      guilds: guilds.map((id) => ({ id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: `ws://127.0.0.1:${this.port}/gateway`,
      shard,
      application: { id: this.applicationId, flags: 0 },
      private_channels: [],
      relationships: [],
    });
    for (const id of guilds) this.sendTo(session, 'GUILD_CREATE', this.guildCreate(id));
  }

  private guildCreate(id: string): unknown {
    const inGuild = [...this.channels.values()].filter((channel) => channel.guild_id === id);
    const everyone: FakeRole = { id, name: '@everyone', permissions: '2248473465835073', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 };
    return {
      id,
      name: id === this.guildId ? 'Fake Guild' : `Fake Guild ${id}`,
      owner_id: '1',
      unavailable: false,
      large: false,
      member_count: 3,
      joined_at: new Date().toISOString(),
      roles: id === this.guildId ? this.roles : [everyone],
      members: [{ user: this.bot, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 }],
      // As Discord sends them: each with the id of its newest message (how a client sees where people talked while it was away).
      channels: inGuild.filter((channel) => channel.type !== CHANNEL.PublicThread).map((channel) => this.withLastMessage(channel)),
      threads: inGuild.filter((channel) => channel.type === CHANNEL.PublicThread).map((channel) => this.withLastMessage(channel)),
      emojis: [],
      stickers: [],
      features: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
    };
  }

  private withLastMessage(channel: FakeChannel): FakeChannel & { last_message_id: string | null } {
    return { ...channel, last_message_id: this.messages.get(channel.id)?.at(-1)?.id ?? null };
  }

  private onResume(socket: WebSocket, resume: { session_id?: string; seq?: number | null }): void {
    const session = this.sessions.resume(socket, resume.session_id);
    if (session === undefined) {
      socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
      return;
    }
    // Missed events first, in order, then RESUMED: what the client had not seen is not lost.
    for (const entry of session.log) if (entry.s > (resume.seq ?? 0)) socket.send(entry.frame);
    this.sendTo(session, 'RESUMED', {});
  }

  // ---- REST ----------------------------------------------------------------------------------

  private async handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readBody(req);
    let body: unknown = null;
    if (raw.length > 0) {
      const type = String(req.headers['content-type'] ?? '');
      body = type.includes('multipart') ? { multipart: true } : JSON.parse(raw.toString('utf8'));
    }
    const path = url.pathname.replace(/^\/api\/v10/, '');
    const record: RestRequest = { method: req.method ?? 'GET', path, query: url.searchParams, body, at: Date.now(), status: 0 };
    const hold = this.holds.find((entry) => entry.match(record.method, path));
    if (hold !== undefined) this.holds.splice(this.holds.indexOf(hold), 1);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      // The answer is what the fake held when the request came; a held request only delivers it later.
      const json = payload === undefined ? undefined : JSON.stringify(payload);
      const write = () => {
        res.writeHead(status, status === 204 ? headers : { 'content-type': 'application/json', ...headers });
        res.end(json);
        this.rest.push(record);
      };
      if (hold === undefined) write();
      else {
        hold.arrived();
        void hold.released.then(write);
      }
    };

    if (url.pathname.startsWith('/attachments/')) {
      // The CDN: serves bytes for signed, unexpired links.
      const ex = url.searchParams.get('ex');
      if (ex === null || Number.parseInt(ex, 16) * 1000 < Date.now()) return send(404, { message: 'This content is no longer available.' });
      record.status = 200;
      const served = this.cdn.get(url.pathname.split('/')[2] ?? '');
      res.writeHead(200, { 'content-type': served?.contentType ?? 'image/png' });
      res.end(served?.bytes ?? Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32)]));
      this.rest.push(record);
      return;
    }
    if (req.headers.authorization !== `Bot ${this.token}` && !path.startsWith('/interactions/') && !path.startsWith('/webhooks/')) {
      return send(401, { message: '401: Unauthorized', code: 0 });
    }
    const tooMany = (retryAfter: number) =>
      send(
        429,
        { message: 'You are being rate limited.', retry_after: retryAfter, global: false },
        {
          'retry-after': String(retryAfter),
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': String(retryAfter),
          'x-ratelimit-bucket': 'fake-bucket',
          'x-ratelimit-scope': 'user',
        },
      );
    if (this.globalRequestsPerSecond !== undefined && !path.startsWith('/interactions/') && !path.startsWith('/webhooks/')) {
      const now = Date.now();
      while (this.globalWindow.length > 0 && now - (this.globalWindow[0] as number) >= 1000) this.globalWindow.shift();
      if (this.globalWindow.length >= this.globalRequestsPerSecond) {
        const retryAfter = (1000 - (now - (this.globalWindow[0] as number))) / 1000;
        return send(429, { message: 'You are being rate limited.', retry_after: retryAfter, global: true }, { 'retry-after': String(Math.ceil(retryAfter)), 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' });
      }
      this.globalWindow.push(now);
    }
    const limited = this.rateLimits.find((limit) => limit.remaining > 0 && limit.match(record.method, path));
    if (limited !== undefined) {
      limited.remaining -= 1;
      return tooMany(limited.retryAfter);
    }
    let respond = send;
    const write = record.method === 'GET' ? null : /^\/channels\/(\d+)\/messages(\/\d+)?$/.exec(path);
    if (this.enforceRateLimits && write !== null) {
      // One bucket per route and channel, announced in every answer as Discord does, so a client
      // that honours the headers waits instead of running into the 429.
      const now = Date.now();
      const route = `${record.method} /channels/{id}/messages${write[2] === undefined ? '' : '/{id}'}`;
      const key = `${route} ${write[1]}`;
      const recent = (this.channelWrites.get(key) ?? []).filter((at) => now - at < 5000);
      if (recent.length >= 5) return tooMany((5000 - (now - (recent[0] as number))) / 1000);
      recent.push(now);
      this.channelWrites.set(key, recent);
      const limitHeaders = {
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': String(5 - recent.length),
        'x-ratelimit-reset-after': String((5000 - (now - (recent[0] as number))) / 1000),
        'x-ratelimit-bucket': Buffer.from(route).toString('hex').slice(0, 32),
      };
      respond = (status, payload, headers) => send(status, payload, { ...limitHeaders, ...headers });
    }
    try {
      this.route(record, body, respond);
    } catch (error) {
      send(500, { message: String(error) });
    }
  }

  private route(record: RestRequest, body: unknown, send: (status: number, payload?: unknown, headers?: Record<string, string>) => void): void {
    const { method, path } = record;
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/gateway/bot') {
      return send(200, {
        url: `ws://127.0.0.1:${this.port}/gateway`,
        shards: this.shardCount,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: this.maxConcurrency },
      });
    }
    if (method === 'GET' && path === '/users/@me') return send(200, this.bot);
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path)) && method === 'POST') return this.createMessage(m[1] as string, body as Record<string, unknown>, send);
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path)) && method === 'GET') return this.listMessages(m[1] as string, record.query, send);
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === 'GET') {
      const message = this.find(m[1] as string, m[2] as string);
      return message === undefined ? send(404, { message: 'Unknown Message', code: 10008 }) : send(200, message);
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === 'DELETE') {
      if (this.find(m[1] as string, m[2] as string) === undefined) return send(404, { message: 'Unknown Message', code: 10008 });
      this.remove(m[1] as string, m[2] as string);
      return send(204);
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === 'PATCH') return this.editMessage(m[1] as string, m[2] as string, body as Record<string, unknown>, send);
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(path)) && method === 'POST') {
      const parent = m[1] as string;
      if (this.threadlessChannels.has(parent)) return send(403, { message: 'Missing Permissions', code: 50013 });
      // Discord's rules: a thread opens on a message that exists, once.
      if (this.find(parent, m[2] as string) === undefined) return send(404, { message: 'Unknown Message', code: 10008 });
      if (this.channels.has(m[2] as string)) return send(400, { message: 'A thread has already been created for this message', code: 160004 });
      const thread = this.addThread(parent, String((body as { name?: string }).name ?? 'thread'), m[2] as string);
      return send(201, thread);
    }
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === 'POST') return send(204);
    if ((m = /^\/channels\/(\d+)$/.exec(path)) && method === 'GET') {
      const channel = this.channels.get(m[1] as string);
      return channel === undefined ? send(404, { message: 'Unknown Channel', code: 10003 }) : send(200, channel);
    }
    if (method === 'POST' && path === '/attachments/refresh-urls') {
      const urls = ((body as { attachment_urls?: string[] }).attachment_urls ?? []).filter((url) => !this.unrefreshable.has(url));
      const fresh = Math.floor((Date.now() + 24 * 3600_000) / 1000).toString(16);
      return send(200, { refreshed_urls: urls.map((original) => ({ original, refreshed: original.replace(/ex=[0-9a-f]+/, `ex=${fresh}`).replace(/hm=sig/, 'hm=fresh') })) });
    }
    if ((m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path)) && method === 'PUT') {
      return send(200, (body as Array<Record<string, unknown>>).map((command) => ({ ...command, id: snowflake(), application_id: m?.[1], version: '1' })));
    }
    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === 'POST') return send(204);
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/.exec(path)) && method === 'PATCH') {
      return send(200, this.makeMessage('0', this.bot, String((body as { content?: string }).content ?? '')));
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)$/.exec(path)) && method === 'POST') {
      return send(200, this.makeMessage('0', this.bot, String((body as { content?: string }).content ?? '')));
    }
    send(404, { message: `fake Discord has no route ${method} ${path}`, code: 0 });
  }

  private validateContent(body: Record<string, unknown>, send: (status: number, payload?: unknown) => void): boolean {
    const content = typeof body.content === 'string' ? body.content : '';
    const hasOther = Array.isArray(body.embeds) && body.embeds.length > 0;
    if (content.trim() === '' && !hasOther) {
      send(400, { message: 'Cannot send an empty message', code: 50006 });
      return false;
    }
    if ([...content].length > 2000) {
      send(400, {
        message: 'Invalid Form Body',
        code: 50035,
        errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } },
      });
      return false;
    }
    return true;
  }

  private createMessage(channelId: string, body: Record<string, unknown>, send: (status: number, payload?: unknown) => void): void {
    if (!this.channels.has(channelId)) return send(404, { message: 'Unknown Channel', code: 10003 });
    if (this.forbiddenChannels.has(channelId)) return send(403, { message: 'Missing Permissions', code: 50013 });
    const thread = this.channels.get(channelId)?.thread_metadata;
    if (thread?.archived === true && thread.locked) return send(400, { message: 'Thread is locked', code: 50083 });
    if (!this.validateContent(body, send)) return;
    // Posting in an archived (unlocked) thread reopens it.
    if (thread?.archived === true) thread.archived = false;
    const reference = body.message_reference as { message_id: string } | undefined;
    const message = this.makeMessage(channelId, this.bot, String(body.content ?? ''), {
      ...(reference === undefined ? {} : { message_reference: { message_id: reference.message_id, channel_id: channelId } }),
      allowed_mentions: body.allowed_mentions,
      ...(Array.isArray(body.components) ? { components: body.components } : {}),
    });
    this.messages.get(channelId)?.push(message);
    send(200, message);
    // The real gateway echoes the bot's own messages back to it.
    this.dispatch('MESSAGE_CREATE', message);
  }

  private editMessage(channelId: string, messageId: string, body: Record<string, unknown>, send: (status: number, payload?: unknown) => void): void {
    const message = this.find(channelId, messageId);
    if (message === undefined) return send(404, { message: 'Unknown Message', code: 10008 });
    if (!this.validateContent(body, send)) return;
    message.content = String(body.content ?? message.content);
    if (Array.isArray(body.components)) message.components = body.components;
    message.edited_timestamp = new Date().toISOString();
    send(200, message);
    this.dispatch('MESSAGE_UPDATE', message);
  }

  private listMessages(channelId: string, query: URLSearchParams, send: (status: number, payload?: unknown) => void): void {
    const list = this.messages.get(channelId);
    if (list === undefined) return send(404, { message: 'Unknown Channel', code: 10003 });
    const limit = Math.min(100, Number(query.get('limit') ?? 50));
    const before = query.get('before');
    const after = query.get('after');
    const newestFirst = [...list].sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    let selected: FakeMessage[];
    if (after !== null) {
      // Discord answers `after` with the oldest messages after the id, newest first.
      selected = newestFirst.filter((m) => BigInt(m.id) > BigInt(after)).slice(-limit);
    } else {
      selected = newestFirst.filter((m) => before === null || BigInt(m.id) < BigInt(before)).slice(0, limit);
    }
    send(200, selected);
  }

  private makeMessage(channelId: string, author: FakeUser, content: string, extra: Partial<FakeMessage> = {}): FakeMessage {
    const channel = this.channels.get(channelId);
    const mentionIds = [...content.matchAll(/<@!?(\d+)>/g)].map((match) => match[1]);
    return {
      id: snowflake(),
      channel_id: channelId,
      ...(channel?.guild_id === undefined ? {} : { guild_id: channel.guild_id }),
      ...(channel === undefined ? {} : { channel_type: channel.type }),
      author,
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      attachments: [],
      mentions: mentionIds.includes(this.bot.id) ? [this.bot] : [],
      mention_roles: [],
      mention_everyone: false,
      type: extra.message_reference === undefined ? 0 : 19,
      flags: 0,
      embeds: [],
      tts: false,
      pinned: false,
      ...extra,
    };
  }

  private withMember(message: FakeMessage): unknown {
    if (message.guild_id === undefined) return message;
    return { ...message, member: { roles: this.memberRoles.get(message.author.id) ?? [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, nick: null } };
  }
}


export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  return new FakeDiscord(options).start();
}
