/**
 * A loopback Slack: the Web API at `/api/<method>`, private files behind a bearer token (a
 * sign-in page without it), a Socket Mode WebSocket, and a sender of signed Events API
 * requests with retries. It keeps channels and messages so `conversations.replies` returns what
 * was said, and logs every call so tests wait for what they expect instead of sleeping.
 */
import { text as readText } from 'node:stream/consumers';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventLog } from '../discord/event-log.js';

export interface ApiCall {
  readonly method: string;
  readonly args: Record<string, unknown>;
  readonly token: string | undefined;
  readonly at: number;
  response?: Record<string, unknown>;
}

export interface SlackMessage {
  type: 'message';
  ts: string;
  user?: string;
  bot_id?: string;
  text: string;
  thread_ts?: string;
  channel: string;
  team?: string;
  files?: SlackFile[];
  blocks?: unknown[];
  subtype?: string;
}

export interface SlackFile {
  id: string;
  name: string;
  mimetype: string;
  size: number;
  url_private: string;
  url_private_download: string;
  original_w?: number;
  original_h?: number;
}

export interface SocketFrame {
  readonly kind: 'connect' | 'ack' | 'close' | 'send';
  readonly envelopeId?: string;
  /** Which Socket Mode connection (numbered from 1 as they open): Slack spreads events among them. */
  readonly connection?: number;
  readonly payload?: unknown;
  readonly at: number;
}

export interface FakeSlackOptions {
  readonly botToken?: string;
  readonly appToken?: string;
  readonly signingSecret?: string;
  /** Methods that answer `{ ok: false, error }`. */
  readonly failing?: Record<string, string>;
  /** conversations.replies page size (Slack's non-Marketplace limit is 15). */
  readonly pageSize?: number;
  /**
   * Answer 429 `ratelimited` to message writes (post, update, stream calls) beyond
   * `WRITES_PER_SECOND` per channel in any second: Slack's "about one message per second per
   * channel, short bursts allowed".
   */
  readonly enforceRateLimits?: boolean;
  /**
   * Slack's per-method tiers, per workspace (Tier 2 about 20 calls a minute, Tier 3 about 50,
   * Tier 4 about 100): a call over its method's budget in the last minute gets 429 `ratelimited`.
   */
  readonly methodTiers?: boolean;
}

/** Calls per minute per workspace, by method (slack-platform.md; methods not listed are not limited here). */
const METHOD_TIERS: Record<string, number> = {
  'chat.startStream': 20,
  'chat.stopStream': 20,
  'chat.appendStream': 100,
  'chat.update': 50,
  'chat.delete': 50,
  'reactions.add': 50,
  'reactions.remove': 50,
};

const WRITE_METHODS = new Set(['chat.postMessage', 'chat.update', 'chat.delete', 'chat.startStream', 'chat.appendStream', 'chat.stopStream']);
const WRITES_PER_SECOND = 3;
/** Socket Mode connections per app (commonly reported; the next gets `disconnect` `too_many_websockets`). */
const MAX_SOCKET_CONNECTIONS = 10;

let tsCounter = 0;

export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly team = 'T0000TEAM';
  readonly botUserId = 'U0BOT00001';
  readonly botId = 'B0BOT00001';
  readonly appId = 'A0APP00001';
  readonly calls = new EventLog<ApiCall>((c) => `${c.method} ${JSON.stringify(c.args).slice(0, 80)}`);
  readonly socketFrames = new EventLog<SocketFrame>((f) => `${f.kind} ${f.envelopeId ?? ''}`);
  readonly messages = new Map<string, SlackMessage[]>();
  readonly users = new Map<string, Record<string, unknown>>();
  readonly files = new Map<string, { bytes: Buffer; contentType: string }>();
  readonly failing: Record<string, string>;
  readonly pageSize: number;
  /** Messages posted to slash commands' response_url. */
  readonly responses = new EventLog<{ readonly id: string; readonly body: Record<string, unknown> }>((r) => `${r.id} ${JSON.stringify(r.body).slice(0, 80)}`);
  private commandCounter = 0;
  /** Messages shown to one person only (chat.postEphemeral). */
  readonly ephemerals = new EventLog<{ readonly channel: string; readonly user: string; readonly text: string; readonly thread_ts?: string }>((e) => `${e.user} ${e.text.slice(0, 60)}`);
  private actionCounter = 0;
  /** Hosts the file server redirects to, for token-leak tests: path → absolute URL. */
  readonly redirects = new Map<string, string>();
  private readonly enforceRateLimits: boolean;
  private readonly methodTiers: boolean;
  /** Recent calls per method, for `methodTiers`. */
  private readonly methodCalls = new Map<string, number[]>();
  /** Recent message writes per channel, for `enforceRateLimits`. */
  private readonly channelWrites = new Map<string, number[]>();
  private readonly holds = new Map<string, { arrive: () => void; released: Promise<void>; firstOnly: boolean }>();
  private server!: Server;
  private wss!: WebSocketServer;
  /** The newest Socket Mode connection (the one `dropSocket` and `sendDisconnect` act on). */
  private socket: WebSocket | undefined;
  /** Every open Socket Mode connection (one per replica), each with its number. */
  private readonly sockets = new Map<WebSocket, number>();
  private nextSocket = 0;
  private envelope = 0;
  private connectionCounter = 0;
  private eventCounter = 0;
  port = 0;

  constructor(options: FakeSlackOptions = {}) {
    this.botToken = options.botToken ?? 'xoxb-fake-bot-token-0123456789';
    this.appToken = options.appToken ?? 'xapp-1-fake-app-token-0123456789';
    this.signingSecret = options.signingSecret ?? 'fake-signing-secret-abcdef';
    this.failing = { ...options.failing };
    this.pageSize = options.pageSize ?? 15;
    this.enforceRateLimits = options.enforceRateLimits ?? false;
    this.methodTiers = options.methodTiers ?? false;
    this.addUser('U0ALICE001', 'alice', 'Alice Liddell');
    this.addUser('U0BOB00001', 'bob', 'Bob Builder');
    this.addUser(this.botUserId, 'threadline', 'threadline', { is_bot: true });
  }

  /** SLACK_API_URL for the bot. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: '/socket' });
    this.wss.on('connection', (socket) => this.onSocket(socket));
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

  addUser(id: string, name: string, realName: string, flags: Record<string, unknown> = {}): void {
    this.users.set(id, { id, name, real_name: realName, profile: { display_name: realName, real_name: realName }, is_admin: false, is_owner: false, ...flags });
  }

  nextTs(): string {
    tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
  }

  /** Stores a message (history); no event is sent. */
  seed(channel: string, user: string, text: string, extra: Partial<SlackMessage> = {}): SlackMessage {
    const message: SlackMessage = { type: 'message', ts: this.nextTs(), user, text, channel, team: this.team, ...extra };
    const list = this.messages.get(channel) ?? [];
    list.push(message);
    this.messages.set(channel, list);
    return message;
  }

  /** A private file served by this fake behind the bot token. */
  file(name: string, mimetype: string, bytes: Buffer, extra: Partial<SlackFile> = {}): SlackFile {
    const id = `F${String(this.files.size + 1).padStart(8, '0')}`;
    this.files.set(id, { bytes, contentType: mimetype });
    const url = `http://127.0.0.1:${this.port}/files-pri/${this.team}-${id}/${encodeURIComponent(name)}`;
    return { id, name, mimetype, size: bytes.length, url_private: url, url_private_download: `${url}?download=1`, ...extra };
  }

  /** The event callback body Slack would send for `event`. */
  envelopeFor(event: Record<string, unknown>, eventId = `Ev${String(++this.eventCounter).padStart(8, '0')}`): Record<string, unknown> {
    return {
      token: 'verification-token',
      team_id: this.team,
      api_app_id: this.appId,
      event: { event_ts: event.ts, ...event },
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.team, user_id: this.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
  }

  /** POSTs a signed request to the bot's HTTP endpoint (Events API or a slash command). */
  async sendHttp(
    url: string,
    body: string,
    options: { contentType?: string; retryNum?: number; retryReason?: string; signature?: 'valid' | 'bad' | 'none'; timestamp?: number; signal?: AbortSignal } = {},
  ): Promise<{ status: number; body: string }> {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', this.signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'application/json',
      'x-slack-request-timestamp': String(timestamp),
    };
    if (options.signature !== 'none') headers['x-slack-signature'] = options.signature === 'bad' ? 'v0=deadbeef' : signature;
    if (options.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(options.retryNum);
      headers['x-slack-retry-reason'] = options.retryReason ?? 'http_timeout';
    }
    const response = await fetch(url, { method: 'POST', headers, body, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    return { status: response.status, body: await response.text() };
  }

  /** A slash command payload as Slack sends it; its response_url points back at this fake. */
  slashCommand(command: string, text: string, user: string, channel = 'C0GENERAL1'): Record<string, string> {
    const id = `cmd-${++this.commandCounter}`;
    return {
      token: 'verification-token',
      team_id: this.team,
      team_domain: 'fake',
      channel_id: channel,
      channel_name: 'general',
      user_id: user,
      user_name: String(this.users.get(user)?.name ?? user),
      command,
      text,
      api_app_id: this.appId,
      is_enterprise_install: 'false',
      response_url: `http://127.0.0.1:${this.port}/respond/${id}`,
      trigger_id: `trigger-${id}`,
    };
  }

  /**
   * The `block_actions` payload Slack sends when `user` presses the element `actionId` of a bot
   * message: a button (`value`) or a feedback button (`type: "feedback_buttons"`, the chosen value).
   * Deliver it form-encoded (`payload=`) over HTTP or as an `interactive` Socket Mode envelope.
   */
  blockActions(message: SlackMessage, user: string, actionId: string, value: string, type: 'button' | 'feedback_buttons' = 'button'): Record<string, unknown> {
    const id = ++this.actionCounter;
    const block = (message.blocks ?? []).find((b) => JSON.stringify(b).includes(`"${actionId}"`)) as { block_id?: string } | undefined;
    return {
      type: 'block_actions',
      user: { id: user, username: String(this.users.get(user)?.name ?? user), name: String(this.users.get(user)?.name ?? user), team_id: this.team },
      api_app_id: this.appId,
      token: 'verification-token',
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false, ...(message.thread_ts === undefined ? {} : { thread_ts: message.thread_ts }) },
      trigger_id: `trigger-action-${id}`,
      team: { id: this.team, domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: message.channel, name: 'general' },
      message: { ...message },
      state: { values: {} },
      response_url: `http://127.0.0.1:${this.port}/respond/action-${id}`,
      actions: [
        {
          type,
          action_id: actionId,
          block_id: block?.block_id ?? 'block',
          value,
          ...(type === 'button' ? { text: { type: 'plain_text', text: actionId } } : {}),
          action_ts: String(Date.now() / 1000),
        },
      ],
    };
  }

  /** The values of the buttons on a bot message, by action id (feedback: both values). */
  buttonValues(message: SlackMessage): Record<string, string[]> {
    const found: Record<string, string[]> = {};
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (typeof record.action_id === 'string') {
        const values = [record.value, (record.positive_button as { value?: unknown } | undefined)?.value, (record.negative_button as { value?: unknown } | undefined)?.value].filter((v): v is string => typeof v === 'string');
        found[record.action_id] = values;
      }
      Object.values(record).forEach(visit);
    };
    visit(message.blocks ?? []);
    return found;
  }

  /** Sends an event over Socket Mode; resolves with the envelope id. */
  sendSocket(type: 'events_api' | 'slash_commands' | 'interactive', payload: Record<string, unknown>, retryAttempt = 0, envelopeId?: string): string {
    const id = envelopeId ?? `env-${++this.envelope}`;
    // Several connections (one per replica): Slack sends each event to one of them.
    const open = [...this.sockets];
    const [socket, connection] = open[this.nextSocket++ % Math.max(1, open.length)] ?? [];
    if (socket === undefined) throw new Error('no Socket Mode connection');
    this.socketFrames.push({ kind: 'send', envelopeId: id, ...(connection === undefined ? {} : { connection }), at: Date.now() });
    socket.send(
      JSON.stringify({ envelope_id: id, payload, type, accepts_response_payload: type !== 'events_api', retry_attempt: retryAttempt, retry_reason: retryAttempt > 0 ? 'timeout' : '' }),
    );
    return id;
  }

  /**
   * Holds every call to `method` until released, to make races deterministic: `arrived`
   * resolves when the first held call comes in. `firstOnly`: only that first call is held (on
   * another replica, say), later ones go through.
   */
  hold(method: string, firstOnly = false): { readonly arrived: Promise<void>; release(): void } {
    let arrive!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.holds.set(method, { arrive, released, firstOnly });
    return {
      arrived,
      release: () => {
        this.holds.delete(method);
        release();
      },
    };
  }

  /** The connection dies without a goodbye (network loss, a Slack pod going away). */
  dropSocket(): void {
    this.socket?.terminate();
  }

  /** The server asks the client to reconnect, as Slack does every few hours. */
  sendDisconnect(reason = 'refresh_requested'): void {
    this.socket?.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake' } }));
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Messages the bot posted in a thread (or channel), oldest first, with their current text. */
  botMessages(channel: string, threadTs?: string): SlackMessage[] {
    return (this.messages.get(channel) ?? []).filter((m) => m.user === this.botUserId && (threadTs === undefined || m.thread_ts === threadTs));
  }

  private onSocket(socket: WebSocket): void {
    if (this.sockets.size >= MAX_SOCKET_CONNECTIONS) {
      socket.send(JSON.stringify({ type: 'disconnect', reason: 'too_many_websockets', debug_info: { host: 'fake' } }));
      socket.close();
      return;
    }
    this.socket = socket;
    const connection = (this.connectionCounter += 1);
    this.sockets.set(socket, connection);
    this.socketFrames.push({ kind: 'connect', connection, at: Date.now() });
    socket.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake', approximate_connection_time: 18060 }, connection_info: { app_id: this.appId } }));
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { envelope_id?: string; payload?: unknown };
      if (frame.envelope_id !== undefined) this.socketFrames.push({ kind: 'ack', envelopeId: frame.envelope_id, payload: frame.payload, connection, at: Date.now() });
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (this.socket === socket) this.socket = [...this.sockets.keys()].at(-1);
      this.socketFrames.push({ kind: 'close', connection, at: Date.now() });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const token = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    if (url.pathname.startsWith('/files-pri/')) return this.serveFile(url, token, res);
    if (url.pathname.startsWith('/redirect/')) {
      const target = this.redirects.get(url.pathname);
      res.writeHead(target === undefined ? 404 : 302, target === undefined ? {} : { location: target });
      res.end();
      return;
    }
    const raw = await readText(req);
    if (url.pathname.startsWith('/respond/')) {
      this.responses.push({ id: url.pathname.slice('/respond/'.length), body: JSON.parse(raw) as Record<string, unknown> });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    const method = /^\/api\/([\w.]+)$/.exec(url.pathname)?.[1];
    let args: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (raw !== '') {
      const type = String(req.headers['content-type'] ?? '');
      args = { ...args, ...(type.includes('json') ? (JSON.parse(raw) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(raw))) };
    }
    const call: ApiCall = { method: method ?? url.pathname, args, token: token ?? (typeof args.token === 'string' ? args.token : undefined), at: Date.now() };
    const respond = (body: Record<string, unknown>, status = 200, headers: Record<string, string> = {}) => {
      call.response = body;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
      this.calls.push(call);
    };
    if (method === undefined) return respond({ ok: false, error: 'unknown_method' });
    const expected = method === 'apps.connections.open' ? this.appToken : this.botToken;
    if (call.token !== expected) return respond({ ok: false, error: 'invalid_auth' });
    const held = this.holds.get(method);
    if (held !== undefined) {
      if (held.firstOnly) this.holds.delete(method);
      held.arrive();
      await held.released;
    }
    const perMinute = METHOD_TIERS[method];
    if (this.methodTiers && perMinute !== undefined) {
      const now = Date.now();
      const recent = (this.methodCalls.get(method) ?? []).filter((at) => now - at < 60_000);
      if (recent.length >= perMinute) {
        return respond({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': String(Math.ceil((60_000 - (now - (recent[0] as number))) / 1000)) });
      }
      this.methodCalls.set(method, [...recent, now]);
    }
    if (this.enforceRateLimits && WRITE_METHODS.has(method)) {
      const now = Date.now();
      const channel = String(args.channel);
      const recent = (this.channelWrites.get(channel) ?? []).filter((at) => now - at < 1000);
      if (recent.length >= WRITES_PER_SECOND) return respond({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': '1' });
      this.channelWrites.set(channel, [...recent, now]);
    }
    const failure = this.failing[method];
    if (failure !== undefined) return respond({ ok: false, error: failure });
    respond(this.api(method, args));
  }

  private api(method: string, args: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.test/', team: 'Fake Team', user: 'threadline', team_id: this.team, user_id: this.botUserId, bot_id: this.botId, is_enterprise_install: false };
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket` };
      case 'users.info': {
        const user = this.users.get(String(args.user));
        return user === undefined ? { ok: false, error: 'user_not_found' } : { ok: true, user };
      }
      case 'bots.info':
        return { ok: true, bot: { id: String(args.bot), name: 'some bot', user_id: 'U0OTHERBOT' } };
      case 'conversations.info':
        return { ok: true, channel: { id: args.channel, name: `channel-${String(args.channel).toLowerCase()}` } };
      case 'chat.postMessage':
        return this.post(args);
      case 'chat.update': {
        const message = this.find(String(args.channel), String(args.ts));
        if (message === undefined) return { ok: false, error: 'message_not_found' };
        const text = String(args.text ?? '');
        if (text.length > 40_000) return { ok: false, error: 'msg_too_long' };
        message.text = markdownOf(args) ?? text;
        message.blocks = parseBlocks(args.blocks);
        return { ok: true, channel: args.channel, ts: args.ts, text: message.text };
      }
      case 'chat.delete': {
        const list = this.messages.get(String(args.channel)) ?? [];
        const index = list.findIndex((m) => m.ts === args.ts);
        if (index >= 0) list.splice(index, 1);
        return { ok: true, channel: args.channel, ts: args.ts };
      }
      case 'chat.startStream': {
        const result = this.post({ ...args, text: String(args.markdown_text ?? '') }, true);
        return result;
      }
      case 'chat.appendStream': {
        const message = this.find(String(args.channel), String(args.ts));
        if (message === undefined || message.subtype !== 'streaming') return { ok: false, error: 'message_not_in_streaming_state' };
        message.text += String(args.markdown_text ?? '');
        if (message.text.length > 12_000) return { ok: false, error: 'msg_too_long' };
        return { ok: true, channel: args.channel, ts: args.ts };
      }
      case 'chat.stopStream': {
        const message = this.find(String(args.channel), String(args.ts));
        if (message === undefined || message.subtype !== 'streaming') return { ok: false, error: 'message_not_in_streaming_state' };
        message.text += String(args.markdown_text ?? '');
        delete message.subtype;
        return { ok: true, channel: args.channel, ts: args.ts };
      }
      case 'conversations.replies':
        return this.replies(args);
      case 'chat.postEphemeral': {
        const message_ts = this.nextTs();
        this.ephemerals.push({ channel: String(args.channel), user: String(args.user), text: String(args.text ?? ''), ...(args.thread_ts === undefined ? {} : { thread_ts: String(args.thread_ts) }) });
        return { ok: true, message_ts };
      }
      case 'assistant.threads.setSuggestedPrompts': {
        const prompts = parseBlocks(args.prompts) as Array<{ title?: string; message?: string }> | undefined;
        if (prompts === undefined || prompts.length === 0 || prompts.length > 4) return { ok: false, error: 'invalid_arguments' };
        if (prompts.some((p) => typeof p.title !== 'string' || typeof p.message !== 'string')) return { ok: false, error: 'invalid_arguments' };
        return { ok: true };
      }
      case 'assistant.threads.setTitle':
        return typeof args.title === 'string' && args.title !== '' ? { ok: true } : { ok: false, error: 'invalid_arguments' };
      case 'reactions.add':
      case 'reactions.remove':
      case 'assistant.threads.setStatus':
        return { ok: true };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private post(args: Record<string, unknown>, streaming = false): Record<string, unknown> {
    const channel = String(args.channel);
    const text = String(args.text ?? '');
    const markdown = markdownOf(args);
    if (!streaming && text.trim() === '' && markdown === undefined) return { ok: false, error: 'no_text' };
    if (text.length > 40_000 || (markdown?.length ?? 0) > 12_000) return { ok: false, error: 'msg_too_long' };
    if (streaming && args.thread_ts !== undefined && !channel.startsWith('D') && (args.recipient_team_id === undefined || args.recipient_user_id === undefined)) {
      return { ok: false, error: 'missing_recipient_team_id' };
    }
    const message = this.seed(channel, this.botUserId, markdown ?? text, {
      bot_id: this.botId,
      ...(args.thread_ts === undefined ? {} : { thread_ts: String(args.thread_ts) }),
      blocks: parseBlocks(args.blocks),
      ...(streaming ? { subtype: 'streaming' } : {}),
    });
    return { ok: true, channel, ts: message.ts, message };
  }

  private find(channel: string, ts: string): SlackMessage | undefined {
    return this.messages.get(channel)?.find((m) => m.ts === ts);
  }

  private replies(args: Record<string, unknown>): Record<string, unknown> {
    const channel = String(args.channel);
    const ts = String(args.ts);
    const all = (this.messages.get(channel) ?? []).filter((m) => m.ts === ts || m.thread_ts === ts);
    if (all.length === 0) return { ok: false, error: 'thread_not_found' };
    // `oldest` keeps later replies only; the parent still leads every page.
    const oldest = args.oldest === undefined ? undefined : Number(args.oldest);
    const thread = oldest === undefined ? all : all.filter((m) => m.ts === ts || Number(m.ts) > oldest);
    const start = Number(args.cursor ?? 0);
    const limit = Math.min(this.pageSize, Number(args.limit ?? this.pageSize));
    const page = thread.slice(start, start + limit);
    // Like Slack, every page starts with the parent message.
    const parent = thread[0] as SlackMessage;
    const messages = start === 0 ? page : [parent, ...page];
    const next = start + limit < thread.length ? String(start + limit) : '';
    return { ok: true, messages, has_more: next !== '', response_metadata: { next_cursor: next } };
  }

  /** Every private-file download, in order (path, and whether it carried the bot token). */
  readonly fileDownloads: Array<{ readonly path: string; readonly authorized: boolean }> = [];

  private serveFile(url: URL, token: string | undefined, res: ServerResponse): void {
    this.fileDownloads.push({ path: url.pathname, authorized: token === this.botToken });
    if (token !== this.botToken) {
      // What Slack does without the token: a redirect to an HTML sign-in page.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html><html><body>Sign in to Slack</body></html>');
      return;
    }
    const id = /\/files-pri\/[^-]+-(F\d+)\//.exec(url.pathname)?.[1] ?? '';
    const redirect = this.redirects.get(url.pathname);
    if (redirect !== undefined) {
      res.writeHead(302, { location: redirect });
      res.end();
      return;
    }
    const file = this.files.get(id);
    if (file === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.bytes.length) });
    res.end(file.bytes);
  }
}

function markdownOf(args: Record<string, unknown>): string | undefined {
  if (typeof args.markdown_text === 'string') return args.markdown_text;
  const blocks = parseBlocks(args.blocks);
  const markdown = blocks?.filter((b): b is { type: string; text: string } => (b as { type?: string }).type === 'markdown').map((b) => b.text);
  return markdown !== undefined && markdown.length > 0 ? markdown.join('') : undefined;
}

function parseBlocks(blocks: unknown): unknown[] | undefined {
  if (blocks === undefined) return undefined;
  return typeof blocks === 'string' ? (JSON.parse(blocks) as unknown[]) : (blocks as unknown[]);
}


export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  return new FakeSlack(options).start();
}
