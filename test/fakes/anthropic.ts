/**
 * A loopback Messages API for tests and benchmarks: enforces the request rules
 * (anthropic-api-rules.ts), answers as JSON or SSE, simulates prompt caching, and can be
 * scripted per request (refusals, max_tokens, HTTP errors, mid-stream errors, stalls).
 */
import { buffer as readBody } from 'node:stream/consumers';
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAKE_MODELS, discordUrlDownloadable, modelFor, pdfPageCount, validateRequest, type ApiRuleError, type ValidateOptions } from './anthropic-rules.js';
import { FakeWeb, type FakeWebCorpus, type WebScript, type WebTurn } from './anthropic-web.js';
import { streamWebTurn } from './anthropic-web-stream.js';
import { AccountRateLimit, type AccountLimits } from './anthropic-rate-limit.js';

/** Web tools (anthropic-web.ts): `toolCalls`, `pauses`, `preamble`; `text` is then the answer after the tools ('' for none). */
export interface ScriptedReply extends WebScript {
  readonly text?: string;
  readonly stopReason?: 'end_turn' | 'max_tokens' | 'refusal' | 'stop_sequence';
  readonly stopDetails?: { category: string | null; explanation: string | null };
  /** Answer with an HTTP error instead of a message. */
  readonly status?: number;
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly headers?: Record<string, string>;
  /** After this many characters of text, send an SSE `error` event and end the stream. */
  readonly midStreamError?: { readonly afterChars: number; readonly type: string; readonly message: string };
  /** After this many characters, go silent (keep the connection open) until the client gives up. */
  readonly stallAfterChars?: number;
  /** Characters per text delta (default 40). */
  readonly chunkSize?: number;
  /** Pause between deltas, to model a model that writes over time (default: none). */
  readonly chunkDelayMs?: number;
  /**
   * How long the model thinks before it writes. A request with adaptive thinking always gets a
   * thinking block (display omitted: one signature_delta, as on Opus 4.8), which precedes the text.
   */
  readonly thinkingMs?: number;
  /** After this many characters, wait for `until` before writing the rest: a test sees the answer mid-stream. */
  readonly pauseAfterChars?: { readonly chars: number; readonly until: Promise<unknown> };
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  readonly at: number;
  status: number;
  error?: ApiRuleError;
  usage?: FakeUsage;
  /** When the first text delta was written (streaming). */
  firstTokenAt?: number;
}

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  server_tool_use?: { web_search_requests: number; web_fetch_requests: number };
}

export interface FakeAnthropicOptions {
  /** When set, only this key is accepted. */
  readonly apiKey?: string;
  readonly validate?: ValidateOptions;
  /** Minimum prefix (estimated tokens) that the simulated cache stores. */
  readonly minCacheableTokens?: number;
  /**
   * The fake's tokenizer: tokens of one block's JSON. By default 4 characters a token, below the
   * bot's estimate; a test of the bot's calibration passes a denser one.
   */
  readonly countTokens?: (json: string) => number;
  /** What `GET /v1/models` lists (default: every model the fake serves). */
  readonly models?: readonly string[];
  /**
   * Pages and search results the web tools find (anthropic-web.ts); others are generated. Given
   * (even `{}`), the model also calls the tools unasked: a fetch per link in the question, a
   * search when it says "search". Without it, only replies that script `toolCalls` use them.
   */
  readonly web?: FakeWebCorpus;
  /**
   * A model that takes time, as a real one does: streamed answers start writing after `ttftMs`
   * and write `tokensPerSecond` (4 characters a token). Without it the fake answers at once.
   */
  readonly latency?: { readonly ttftMs: number; readonly tokensPerSecond: number };
  /** The account's rate limit: 429 with the real headers above it (see rate-limit.ts). */
  readonly rateLimit?: AccountLimits;
  /** The answer when no reply is queued (default: an echo of the last user text). */
  readonly defaultText?: string;
}

export interface FakeAnthropic {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Replies for the next requests, in order; when none is queued the fake echoes the last user text. */
  enqueue(...replies: ScriptedReply[]): void;
  /** How many queued replies no request has taken yet. */
  queued(): number;
  /** Drops the requests recorded so far: a long benchmark must not measure the double's own memory growth. */
  forgetRequests(): void;
  /** Drops the simulated prompt cache, for the same reason. */
  forgetCache(): void;
  waitForRequests(count: number): Promise<void>;
  /** Messages requests only (not count_tokens etc.). */
  messageRequests(): RecordedRequest[];
  /** Files uploaded through the Files API, by id. */
  readonly files: ReadonlyMap<string, UploadedFile>;
  /** Holds every web tool result until the returned function is called (what shows while a tool runs). */
  holdToolResults(): () => void;
  /** Streamed answers being written right now (a client killed mid-answer leaves none behind). */
  streaming(): number;
  close(): Promise<void>;
}

let requestCounter = 0;
/** Messages requests are limited to 32 MB (§1); the Files API takes more. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedReply[] = [];
  const events = new EventEmitter();
  const written = new Set<string>();
  const openResponses = new Set<ServerResponse>();
  let streamingNow = 0;
  const files = new Map<string, UploadedFile>();
  const countTokens = options.countTokens ?? ((json: string) => Math.ceil(json.length / 4));
  const web = new FakeWeb(options.web);
  let toolGate: Promise<void> | undefined;
  const account = options.rateLimit === undefined ? undefined : new AccountRateLimit(options.rateLimit);

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'api_error', String(error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (raw.length > MAX_REQUEST_BYTES && !(req.url ?? '').startsWith('/v1/files')) {
      requests.push({ method: req.method ?? 'POST', path: req.url ?? '/', headers: req.headers, body: {}, at: Date.now(), status: 413 });
      return sendError(res, 413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
    }
    const isUpload = (req.url ?? '').startsWith('/v1/files') && req.method === 'POST';
    let body: Record<string, unknown> = {};
    try {
      body = raw.length === 0 || isUpload ? {} : (JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'There was an error parsing the body of your request');
    }
    const record: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body, at: Date.now(), status: 0 };
    requests.push(record);
    try {
      const auth = checkAuth(req, options.apiKey);
      if (auth !== undefined) return reject(record, res, auth);
      const version = req.headers['anthropic-version'];
      if (typeof version !== 'string') return reject(record, res, { status: 400, type: 'invalid_request_error', message: 'anthropic-version: header is required' });
      if (isUpload) {
        const file = parseMultipartFile(raw, String(req.headers['content-type'] ?? ''));
        if (file === undefined) return reject(record, res, { status: 400, type: 'invalid_request_error', message: 'file: Field required' });
        const id = `file_fake${String(files.size + 1).padStart(6, '0')}`;
        files.set(id, file);
        record.status = 200;
        record.body = { filename: file.filename, mime_type: file.mimeType, size_bytes: file.bytes.length };
        return sendJson(res, 200, { id, type: 'file', filename: file.filename, mime_type: file.mimeType, size_bytes: file.bytes.length, created_at: new Date().toISOString(), downloadable: false });
      }
      if ((req.url ?? '').startsWith('/v1/models') && req.method === 'GET') {
        record.status = 200;
        return sendJson(res, 200, listModels(options.models ?? Object.keys(FAKE_MODELS), new URL(req.url ?? '/', 'http://fake').searchParams));
      }
      if (!(req.url ?? '').startsWith('/v1/messages')) return reject(record, res, { status: 404, type: 'not_found_error', message: 'Not found' });
      // A model the list leaves out is as unknown to the API as one it never had.
      if (options.models !== undefined && typeof body.model === 'string' && !options.models.includes(body.model)) {
        return reject(record, res, { status: 404, type: 'not_found_error', message: `model: ${body.model}` });
      }
      const unknownFile = findFileIds(body).find((id) => !files.has(id));
      if (unknownFile !== undefined) return reject(record, res, { status: 404, type: 'not_found_error', message: `File not found: ${unknownFile}` });
      const canDownload = options.validate?.canDownload ?? ((url: string) => discordUrlDownloadable(url, Date.now()));
      const documents = await loadDocuments(body, files, canDownload);
      if (documents.unreachable !== undefined) {
        return reject(record, res, { status: 400, type: 'invalid_request_error', message: `${documents.unreachable}: Unable to download the file. Please verify the URL and try again.` });
      }
      const ruleError = validateRequest(body, {
        canDownload,
        imageSize: (source) => (source.type === 'file' ? files.get(String(source.file_id))?.size : undefined),
        documentBytes: (source) => documents.bytes.get(source),
        emitted: web.registry,
        ...options.validate,
        apiVersion: version,
      });
      if (ruleError !== undefined) return reject(record, res, ruleError);
      const prompt = promptBlocks(body, countTokens, documents.bytes);
      const promptTokens = prompt.reduce((sum, block) => sum + block.tokens, 0);
      const window = modelFor(String(body.model))?.contextWindow ?? 200_000;
      if (promptTokens > window) return reject(record, res, { status: 400, type: 'invalid_request_error', message: `prompt is too long: ${promptTokens} tokens > ${window} maximum` });
      const admission = account?.admit(promptTokens);
      if (admission !== undefined && !admission.ok) {
        record.status = 429;
        const requestId = newRequestId();
        res.writeHead(429, { 'content-type': 'application/json', 'request-id': requestId, ...admission.headers });
        res.end(JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: admission.message }, request_id: requestId }));
        return;
      }
      if (admission !== undefined) res.on('close', () => account?.finish(record.usage?.output_tokens ?? 0));
      // A paused turn's continuation carries on with its own script, not the next queued one.
      const resumed = web.continuation(body);
      const failContinuation = resumed?.script.continuationStatus;
      const script: ScriptedReply =
        resumed === undefined ? (queue.shift() ?? {}) : failContinuation === undefined ? {} : { status: failContinuation, errorType: failContinuation === 529 ? 'overloaded_error' : 'api_error' };
      if (script.status !== undefined) {
        record.status = script.status;
        return sendError(res, script.status, script.errorType ?? 'api_error', script.errorMessage ?? 'scripted error', script.headers);
      }
      const usage = simulateCache(body, prompt, written, options.minCacheableTokens ?? 0);
      const webTurn = web.turn(body, script, defaultAnswer(body));
      if (webTurn !== undefined) {
        usage.output_tokens = Math.max(1, Math.ceil(JSON.stringify(webTurn.content).length / 16));
        usage.server_tool_use = webTurn.serverToolUse;
        record.usage = usage;
        record.status = 200;
        if (body.stream === true) await streamTurn(res, body, webTurn, usage, script.chunkSize ?? 40, () => (record.firstTokenAt ??= Date.now()), () => toolGate ?? Promise.resolve());
        else sendJson(res, 200, { ...messageJson(body, '', {}, usage), content: webTurn.content, stop_reason: webTurn.stopReason });
        return;
      }
      const text = script.text ?? options.defaultText ?? defaultAnswer(body);
      usage.output_tokens = Math.max(1, Math.ceil(text.length / 4));
      record.usage = usage;
      record.status = 200;
      const limitHeaders = admission?.headers ?? {};
      const paced = options.latency === undefined ? script : latencyScript(script, options.latency);
      if (body.stream === true) {
        streamingNow += 1;
        res.once('close', () => (streamingNow -= 1));
        await streamMessage(res, body, text, paced, usage, openResponses, () => (record.firstTokenAt ??= Date.now()), limitHeaders, options.latency === undefined ? undefined : record.at + options.latency.ttftMs);
      } else sendJson(res, 200, messageJson(body, text, script, usage), limitHeaders);
    } finally {
      events.emit('request');
    }
  }

  function reject(record: RecordedRequest, res: ServerResponse, error: ApiRuleError): void {
    record.status = error.status;
    record.error = error;
    sendError(res, error.status, error.type, error.message);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    queued: () => queue.length,
    forgetRequests: () => {
      requests.length = 0;
    },
    forgetCache: () => written.clear(),
    files,
    holdToolResults: () => {
      let release = () => {};
      toolGate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        toolGate = undefined;
        release();
      };
    },
    messageRequests: () => requests.filter((request) => request.path.startsWith('/v1/messages') && !request.path.includes('count_tokens')),
    /** Resolves once `count` Messages requests (not uploads) have been answered. */
    async waitForRequests(count) {
      const answered = () => requests.filter((r) => r.status !== 0 && r.path.startsWith('/v1/messages')).length;
      while (answered() < count) await once(events, 'request');
    },
    streaming: () => streamingNow,
    async close() {
      for (const res of openResponses) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `GET /v1/models`: newest first, paged by `limit` (default 20) and `after_id`, as the API does. */
function listModels(ids: readonly string[], query: URLSearchParams) {
  const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? 20)));
  const after = query.get('after_id');
  const start = after === null ? 0 : ids.indexOf(after) + 1;
  const page = ids.slice(start, start + limit);
  return {
    data: page.map((id, index) => ({
      id,
      type: 'model',
      display_name: id.replace(/^claude-/, 'Claude ').replace(/-/g, ' '),
      created_at: new Date(Date.UTC(2026, 0, 1) - (start + index) * 86_400_000).toISOString(),
      max_input_tokens: modelFor(id)?.contextWindow ?? null,
      max_tokens: modelFor(id)?.maxOutput ?? null,
      capabilities: null,
    })),
    first_id: page[0] ?? null,
    last_id: page[page.length - 1] ?? null,
    has_more: start + limit < ids.length,
  };
}

function checkAuth(req: IncomingMessage, apiKey: string | undefined): ApiRuleError | undefined {
  const header = req.headers['x-api-key'];
  const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
  const key = typeof header === 'string' ? header : bearer;
  if (key === undefined || key === '') return { status: 401, type: 'authentication_error', message: 'x-api-key header is required' };
  if (apiKey !== undefined && key !== apiKey) return { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
  return undefined;
}


export interface UploadedFile {
  readonly filename: string;
  readonly mimeType: string;
  readonly bytes: Buffer;
  /** Pixel size, when a test registers it (the fake decodes no images). */
  size?: { width: number; height: number };
}

function parseMultipartFile(raw: Buffer, contentType: string): UploadedFile | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (boundary === null) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = raw.indexOf(delimiter);
  while (start >= 0) {
    const next = raw.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = raw.subarray(start + delimiter.length + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    if (/name="file"/.test(headers)) {
      return {
        filename: /filename="([^"]*)"/.exec(headers)?.[1] ?? 'unnamed',
        mimeType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream',
        bytes: Buffer.from(part.subarray(headerEnd + 4)),
      };
    }
    start = next;
  }
  return undefined;
}

/** Tokens per PDF page in the fake (text plus the page image, §13). */
export const FAKE_TOKENS_PER_PDF_PAGE = 2_000;

/**
 * The bytes of every PDF the request carries: uploads from the Files API, URLs downloaded as
 * the API does (a link it cannot fetch is a 400). Keyed by source object.
 */
async function loadDocuments(
  body: Record<string, unknown>,
  files: ReadonlyMap<string, UploadedFile>,
  canDownload: (url: string) => boolean,
): Promise<{ bytes: Map<unknown, Buffer>; unreachable?: string }> {
  const bytes = new Map<unknown, Buffer>();
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ content: unknown }>) : [];
  for (const [m, message] of messages.entries()) {
    if (!Array.isArray(message.content)) continue;
    for (const [b, block] of (message.content as Array<{ type?: string; source?: Record<string, unknown> }>).entries()) {
      const source = block.source;
      if (block.type !== 'document' || source === undefined) continue;
      if (source.type === 'base64') bytes.set(source, Buffer.from(String(source.data ?? ''), 'base64'));
      if (source.type === 'file') {
        const file = files.get(String(source.file_id));
        if (file !== undefined) bytes.set(source, file.bytes);
      }
      if (source.type === 'url' && typeof source.url === 'string' && canDownload(source.url)) {
        try {
          const response = await fetch(source.url);
          if (!response.ok) return { bytes, unreachable: `messages.${m}.content.${b}.document.source.url` };
          bytes.set(source, Buffer.from(await response.arrayBuffer()));
        } catch {
          return { bytes, unreachable: `messages.${m}.content.${b}.document.source.url` };
        }
      }
    }
  }
  return { bytes };
}

function findFileIds(body: Record<string, unknown>): string[] {
  const ids: string[] = [];
  for (const message of (body.messages as Array<{ content: unknown }>) ?? []) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content as Array<{ source?: { type?: string; file_id?: string } }>) {
      if (block.source?.type === 'file' && typeof block.source.file_id === 'string') ids.push(block.source.file_id);
    }
  }
  return ids;
}

function newRequestId(): string {
  requestCounter += 1;
  return `req_011CFake${String(requestCounter).padStart(8, '0')}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': newRequestId(), ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  const requestId = newRequestId();
  // The SDK retries 429/5xx; tests that script failures want to see each try, not wait for backoff.
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, 'retry-after-ms': '5', ...headers });
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId }));
}

/** Deltas of a few tokens at the model's pace, unless the script says otherwise. */
function latencyScript(script: ScriptedReply, latency: { readonly tokensPerSecond: number }): ScriptedReply {
  const chunkSize = script.chunkSize ?? 16;
  return { ...script, chunkSize, chunkDelayMs: script.chunkDelayMs ?? ((chunkSize / 4) * 1000) / latency.tokensPerSecond };
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages as Array<{ role: string; content: unknown }>) ?? [];
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    if (message?.role !== 'user') continue;
    const content = message.content;
    if (typeof content === 'string') return content;
    const texts = (content as Array<{ type: string; text?: string }>).filter((block) => block.type === 'text');
    return texts[texts.length - 1]?.text ?? '';
  }
  return '';
}

function defaultAnswer(body: Record<string, unknown>): string {
  return `echo: ${lastUserText(body).slice(0, 200)}`;
}

function messageJson(body: Record<string, unknown>, text: string, script: ScriptedReply, usage: FakeUsage) {
  const stopReason = script.stopReason ?? 'end_turn';
  return {
    id: `msg_fake${requestCounter}`,
    type: 'message',
    role: 'assistant',
    model: body.model,
    content: stopReason === 'refusal' && script.text === undefined ? [] : [{ type: 'text', text }],
    stop_reason: stopReason,
    stop_sequence: null,
    stop_details: stopReason === 'refusal' ? { type: 'refusal', ...(script.stopDetails ?? { category: null, explanation: null }) } : null,
    usage,
  };
}

async function streamMessage(
  res: ServerResponse,
  body: Record<string, unknown>,
  fullText: string,
  script: ScriptedReply,
  usage: FakeUsage,
  open: Set<ServerResponse>,
  onFirstToken: () => void,
  headers: Record<string, string> = {},
  /** When the first token is due (the latency model's time to first token after the request came in), if paced. */
  firstTokenDue?: number,
): Promise<void> {
  const stopReason = script.stopReason ?? 'end_turn';
  const text = stopReason === 'refusal' && script.text === undefined ? '' : fullText;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': newRequestId(), ...headers });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send('message_start', {
    type: 'message_start',
    message: { id: `msg_fake${requestCounter}`, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
  });
  send('ping', { type: 'ping' });
  // Counted from the request's arrival, as the real API's is: the double's own work on the request is part of it.
  if (firstTokenDue !== undefined) await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, firstTokenDue - Date.now())));
  if (res.destroyed) return;
  let textIndex = 0;
  if ((body.thinking as { type?: string } | undefined)?.type === 'adaptive' || script.thinkingMs !== undefined) {
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
    if (script.thinkingMs !== undefined) await new Promise<void>((resolve) => setTimeout(resolve, script.thinkingMs));
    send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'fake-signature' } });
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    textIndex = 1;
  }
  if (text !== '') {
    send('content_block_start', { type: 'content_block_start', index: textIndex, content_block: { type: 'text', text: '' } });
    const chunk = script.chunkSize ?? 40;
    const points = [...text];
    const writingSince = Date.now();
    for (let sent = 0; sent < points.length; sent += chunk) {
      if (res.destroyed) return;
      if (script.midStreamError !== undefined && sent >= script.midStreamError.afterChars) {
        send('error', { type: 'error', error: { type: script.midStreamError.type, message: script.midStreamError.message } });
        res.end();
        return;
      }
      if (script.stallAfterChars !== undefined && sent >= script.stallAfterChars) {
        open.add(res);
        res.on('close', () => open.delete(res));
        return;
      }
      if (script.pauseAfterChars !== undefined && sent >= script.pauseAfterChars.chars && sent - chunk < script.pauseAfterChars.chars) await script.pauseAfterChars.until;
      send('content_block_delta', { type: 'content_block_delta', index: textIndex, delta: { type: 'text_delta', text: points.slice(sent, sent + chunk).join('') } });
      onFirstToken();
      // Let the client see deltas as separate reads, as it would over a real network.
      // Paced against the clock, not the previous timer, so timer lag does not add up over an answer.
      if (script.chunkDelayMs !== undefined) {
        const due = writingSince + ((sent + chunk) / chunk) * script.chunkDelayMs;
        await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      } else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    send('content_block_stop', { type: 'content_block_stop', index: textIndex });
  } else if (script.stallAfterChars !== undefined) {
    open.add(res);
    res.on('close', () => open.delete(res));
    return;
  }
  send('message_delta', {
    type: 'message_delta',
    delta: {
      stop_reason: stopReason,
      stop_sequence: null,
      stop_details: stopReason === 'refusal' ? { type: 'refusal', ...(script.stopDetails ?? { category: null, explanation: null }) } : null,
    },
    usage,
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

async function streamTurn(
  res: ServerResponse,
  body: Record<string, unknown>,
  turn: WebTurn,
  usage: FakeUsage,
  chunkSize: number,
  onFirstToken: () => void,
  toolRuns: () => Promise<void>,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': newRequestId() });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const start = { input_tokens: usage.input_tokens, output_tokens: 1, cache_read_input_tokens: usage.cache_read_input_tokens, cache_creation_input_tokens: usage.cache_creation_input_tokens };
  send('message_start', {
    type: 'message_start',
    message: { id: `msg_fake${requestCounter}`, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: start },
  });
  await streamWebTurn(send, turn, chunkSize, onFirstToken, toolRuns);
  send('message_delta', { type: 'message_delta', delta: { stop_reason: turn.stopReason, stop_sequence: null, stop_details: null }, usage });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

/**
 * Prompt caching as §10 describes it: prefixes are written at breakpoints (explicit
 * `cache_control` blocks, plus the last block under top-level automatic caching), and a request
 * reads the longest prefix a previous request wrote, looking back at most 20 blocks from each
 * breakpoint. Tokens come from the fake's tokenizer (`countTokens`; 1600 per image).
 */
function simulateCache(body: Record<string, unknown>, blocks: PromptBlock[], written: Set<string>, minTokens: number): FakeUsage {
  const hashes: string[] = [];
  const cumulative: number[] = [];
  // Tools come first in the cached prefix (§10): a different tool list shares nothing.
  let hash = `${String(body.model)}\u0000${JSON.stringify(body.tools ?? null)}`;
  let sum = 0;
  for (const block of blocks) {
    hash = createHash('sha1').update(hash).update(block.key).digest('hex');
    sum += block.tokens;
    hashes.push(hash);
    cumulative.push(sum);
  }
  const breakpoints = blocks.flatMap((block, index) => (block.breakpoint ? [index] : []));
  let readUpTo = -1;
  for (const point of breakpoints) {
    for (let i = point; i >= Math.max(0, point - 19); i -= 1) {
      if (written.has(hashes[i] as string)) {
        readUpTo = Math.max(readUpTo, i);
        break;
      }
    }
  }
  const lastBreakpoint = breakpoints[breakpoints.length - 1] ?? -1;
  for (const point of breakpoints) if ((cumulative[point] ?? 0) >= minTokens) written.add(hashes[point] as string);
  const read = readUpTo >= 0 ? (cumulative[readUpTo] as number) : 0;
  const upToLast = lastBreakpoint >= 0 && (cumulative[lastBreakpoint] ?? 0) >= minTokens ? (cumulative[lastBreakpoint] as number) : read;
  return {
    input_tokens: sum - Math.max(read, upToLast),
    output_tokens: 0,
    cache_read_input_tokens: read,
    cache_creation_input_tokens: Math.max(0, upToLast - read),
  };
}

interface PromptBlock {
  readonly key: string;
  readonly tokens: number;
  breakpoint: boolean;
}

/** The prompt as the cache and the context window see it: system blocks, then message blocks, in order. */
function promptBlocks(body: Record<string, unknown>, countTokens: (json: string) => number, documents: ReadonlyMap<unknown, Buffer> = new Map()): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  const entry = (role: string, block: Record<string, unknown>): PromptBlock => {
    const { cache_control: cacheControl, ...rest } = block;
    const json = JSON.stringify(rest);
    const pdf = block.type === 'document' ? documents.get(block.source) : undefined;
    // Hashed by the block as sent: a changed source (a refreshed link) breaks the prefix, as it would for real.
    const key = `${role}:${json}`;
    const tokens = block.type === 'image' ? 1600 : pdf !== undefined ? pdfPageCount(pdf) * FAKE_TOKENS_PER_PDF_PAGE : countTokens(json);
    return { key, tokens, breakpoint: cacheControl !== undefined && cacheControl !== null };
  };
  const system = typeof body.system === 'string' ? [{ type: 'text', text: body.system }] : ((body.system as Array<Record<string, unknown>>) ?? []);
  for (const block of system) blocks.push(entry('system', block));
  for (const message of (body.messages as Array<{ role: string; content: unknown }>) ?? []) {
    const content = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : (message.content as Array<Record<string, unknown>>);
    for (const block of content) blocks.push(entry(message.role, block));
  }
  if (body.cache_control && blocks.length > 0) (blocks[blocks.length - 1] as PromptBlock).breakpoint = true;
  return blocks;
}
