/**
 * The playground's HTTP API. Every route translates only: messages go to the core as inbound
 * messages, answers come back through the reply sink, threads are read back from the core.
 * Bad input gets a 4xx with a sentence saying what is wrong, and nothing is stored.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ChatCore, InboundMessage, ThreadEntry, ThreadReader, ThreadRef } from '../../core/types.js';
import { parseControlId } from '../../core/answer-controls/control-ids.js';
import { adminCommands, type AdminContext } from './commands.js';
import { withControls } from './controls.js';
import type { EventHub } from './events.js';
import { HttpError, readBody, readJson, sendJson } from './http-util.js';
import { inboundText, participantId } from './inbound.js';
import { WebReplySink, type ActiveReplies } from './outbound.js';
import { isStaticPath, serveStatic } from './static.js';
import type { UploadMeta, UploadStore } from './uploads.js';

export const WORKSPACE_ID = 'playground';
export const CHANNEL_ID = 'general';
const MAX_JSON_BYTES = 256 * 1024;
const MAX_TEXT_CHARS = 40_000;
const MAX_ATTACHMENTS = 10;
/** Uploads shown inline; anything else is offered as a download, never rendered on this origin. */
const INLINE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const THREAD_ID = /^t-[0-9a-f-]{36}$/;

export interface WebApiOptions {
  readonly core: ChatCore & ThreadReader;
  readonly logger: Logger;
  readonly hub: EventHub;
  readonly active: ActiveReplies;
  readonly uploads: UploadStore;
  readonly maxUploadBytes: number;
  /** The address the server listens on: on loopback, only requests addressed to loopback are served. */
  readonly listenHost?: string;
}

const participant = z
  .string()
  .trim()
  .min(1, 'say who you are')
  .max(40, 'names are at most 40 characters')
  .refine((name) => !/[\u0000-\u001f<>]/.test(name), 'names cannot contain control characters or < >');

const messageBody = z.object({
  author: participant,
  text: z.string().max(MAX_TEXT_CHARS, `messages are at most ${MAX_TEXT_CHARS} characters`).default(''),
  attachments: z.array(z.string()).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} files per message`).default([]),
});

const adminBody = z.object({ actor: participant.default('admin'), fields: z.record(z.unknown()).default({}) });

/** A press on a button under an answer: who pressed, and the button's id as the page got it. */
const controlBody = z.object({
  actor: participant,
  control: z
    .string()
    .max(100, 'control ids are at most 100 characters')
    .refine((id) => parseControlId(id) !== undefined, 'not a button of this playground (tl:<regen|up|down|stop>:<answer>)'),
});

export function createWebApi(options: WebApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { core, hub, uploads } = options;
  const log = options.logger;
  const commands = adminCommands(core);

  const threadRef = (threadId: string): ThreadRef => ({ platform: 'web', workspaceId: WORKSPACE_ID, channelId: CHANNEL_ID, threadKey: threadId });
  const existingThread = async (threadId: string): Promise<ThreadEntry[]> => {
    const entries = THREAD_ID.test(threadId) ? await core.readThread(threadRef(threadId)) : undefined;
    if (entries === undefined) throw new HttpError(404, `There is no thread ${JSON.stringify(threadId)}.`);
    return entries;
  };

  async function parseMessage(req: IncomingMessage): Promise<{ author: string; text: string; files: UploadMeta[] }> {
    const parsed = messageBody.safeParse(await readJson(req, MAX_JSON_BYTES));
    if (!parsed.success) throw new HttpError(400, describe(parsed.error));
    const files: UploadMeta[] = [];
    for (const id of parsed.data.attachments) {
      const meta = await uploads.meta(id);
      if (meta === undefined) throw new HttpError(400, `There is no uploaded file ${JSON.stringify(id)}; upload it again.`);
      files.push(meta);
    }
    if (parsed.data.text.trim() === '' && files.length === 0) throw new HttpError(400, 'The message is empty: write something or attach a file.');
    return { author: parsed.data.author, text: parsed.data.text, files };
  }

  /** Hands the message to the core and resolves once it is stored; the answer streams over SSE. */
  async function post(threadId: string, input: { author: string; text: string; files: UploadMeta[] }, isNew: boolean): Promise<ThreadEntry> {
    const messageId = `m-${randomUUID()}`;
    const { text, mentionsBot } = inboundText(input.text, isNew);
    const entry: ThreadEntry = {
      messageId,
      author: { id: participantId(input.author), name: input.author, kind: 'user' },
      text,
      createdAt: Date.now(),
      replyTo: null,
      attachments: input.files.map((file) => ({ id: file.id, name: file.name, mediaType: file.mediaType, url: uploads.urlOf(file.id) })),
    };
    const message: InboundMessage = {
      thread: threadRef(threadId),
      messageId,
      author: entry.author,
      text,
      createdAt: entry.createdAt,
      attachments: input.files.map((file) => ({ id: file.id, name: file.name, mediaType: file.mediaType, size: file.size, url: uploads.urlOf(file.id) })),
      mentionsBot,
      isDirect: false,
    };
    let accepted: () => void = () => undefined;
    const stored = new Promise<void>((resolve) => {
      accepted = resolve;
    });
    const handled = core.handle(message, {
      sink: () => new WebReplySink(hub, options.active, threadId, messageId),
      // Pages learn of the message before its answer starts streaming.
      onAccepted: () => {
        hub.publish({ type: 'message', threadId, entry });
        if (isNew) hub.publish({ type: 'threads', threadId });
        accepted();
      },
    });
    handled.catch((error: unknown) => log.error({ err: error, thread: threadId }, 'the core failed on a playground message'));
    await Promise.race([stored, handled]);
    return entry;
  }

  async function route(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    if (method === 'GET' && isStaticPath(path)) return serveStatic(path, res);
    if (method === 'GET' && path === '/api/events') return hub.subscribe(req, res);
    if (method === 'GET' && path === '/api/threads') {
      const threads = (await core.listThreads('web', WORKSPACE_ID)).map((summary) => ({ id: summary.thread.threadKey, title: summary.title, lastActivityAt: summary.lastActivityAt }));
      return sendJson(res, 200, { threads });
    }
    if (method === 'POST' && path === '/api/threads') {
      const input = await parseMessage(req);
      const threadId = `t-${randomUUID()}`;
      const entry = await post(threadId, input, true);
      return sendJson(res, 201, { threadId, message: entry });
    }
    if (method === 'POST' && path === '/api/uploads') return upload(req, res);
    if (method === 'POST' && path === '/api/controls') return pressControl(req, res);

    const segments = path.split('/').filter((segment) => segment !== '');
    if (segments[0] !== 'api' || segments.length < 3) throw new HttpError(404, `Nothing at ${method} ${path}.`);
    const [, collection, id = '', action] = segments.map(decodeSegment);
    if (collection === 'threads' && method === 'GET' && action === undefined) return sendJson(res, 200, { threadId: id, entries: (await existingThread(id)).map(withControls) });
    if (collection === 'threads' && method === 'POST' && action === 'messages') {
      await existingThread(id);
      const input = await parseMessage(req);
      return sendJson(res, 202, { message: await post(id, input, false) });
    }
    if (collection === 'uploads' && method === 'GET' && action === undefined) return download(id, res);
    if (collection === 'replies' && method === 'POST' && action === 'stop') {
      if (!options.active.stop(id)) throw new HttpError(404, 'That answer is not streaming any more.');
      res.writeHead(204).end();
      return;
    }
    if (collection === 'admin' && method === 'POST' && action === undefined) return admin(id, req, res);
    throw new HttpError(404, `Nothing at ${method} ${path}.`);
  }

  async function upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawName = req.headers['x-file-name'];
    if (typeof rawName !== 'string' || rawName === '') throw new HttpError(400, 'Name the file in the x-file-name header.');
    let name: string;
    try {
      name = decodeURIComponent(rawName).replace(/[\u0000-\u001f/\\]/g, '_').slice(0, 200);
    } catch {
      throw new HttpError(400, 'The x-file-name header is not valid URI-encoded text.');
    }
    const mediaType = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]?.trim().toLowerCase() || 'application/octet-stream';
    const bytes = await readBody(req, options.maxUploadBytes, `The file ${name}`);
    if (bytes.byteLength === 0) throw new HttpError(400, `The file ${name} is empty.`);
    const meta = await uploads.save(bytes, name, mediaType);
    log.info({ upload: meta.id, bytes: meta.size, mediaType }, 'playground upload stored');
    sendJson(res, 201, { ...meta, url: uploads.urlOf(meta.id) });
  }

  async function download(id: string, res: ServerResponse): Promise<void> {
    const file = await uploads.read(id);
    if (file === undefined) throw new HttpError(404, 'There is no such uploaded file.');
    const inline = INLINE_TYPES.has(file.meta.mediaType);
    res.writeHead(200, {
      'content-type': inline ? file.meta.mediaType : 'application/octet-stream',
      'content-disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(file.meta.name)}`,
      'content-security-policy': "default-src 'none'; sandbox",
      'x-content-type-options': 'nosniff',
      'cache-control': 'private, max-age=86400',
    });
    res.end(file.bytes);
  }

  /**
   * Regenerate, 👍 and 👎 go to the core as the platforms' button presses do; its reply is for
   * the presser alone (the page shows it briefly beside the buttons). Everyone here is an admin.
   */
  async function pressControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = controlBody.safeParse(await readJson(req, MAX_JSON_BYTES));
    if (!parsed.success) throw new HttpError(400, describe(parsed.error));
    const { actor, control } = parsed.data;
    const reply = await core.pressControl({ platform: 'web', workspaceId: WORKSPACE_ID, controlId: control, actor: { id: participantId(actor), name: actor, isAdmin: true } });
    sendJson(res, 200, reply.text === undefined ? {} : { text: reply.text });
  }

  async function admin(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (command === undefined) throw new HttpError(404, `There is no admin command ${JSON.stringify(name)}; there are ${Object.keys(commands).join(', ')}.`);
    const parsed = adminBody.safeParse(await readJson(req, MAX_JSON_BYTES));
    if (!parsed.success) throw new HttpError(400, describe(parsed.error));
    const context: AdminContext = {
      workspaceId: WORKSPACE_ID,
      channelId: CHANNEL_ID,
      actor: { id: participantId(parsed.data.actor), name: parsed.data.actor, isAdmin: true },
    };
    const reply = await command(parsed.data.fields, context);
    sendJson(res, reply.invalid === true ? 400 : 200, { ok: reply.ok, text: reply.text });
  }

  return async (req, res) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://playground').pathname;
    try {
      checkOrigin(req, method, options.listenHost);
      await route(req, res, method, path);
    } catch (error) {
      if (error instanceof HttpError) {
        // A refused upload may still be streaming in: discard the rest and close the connection.
        if (error.status === 413 && !res.headersSent) res.setHeader('connection', 'close');
        if (!res.headersSent) sendJson(res, error.status, { error: error.message });
        req.resume();
        return;
      }
      log.error({ err: error, method, path }, 'playground request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'Something went wrong on the server; the log has the details.' });
    }
  };
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * The playground has no login: it trusts whoever can reach it. So a web page elsewhere must not
 * drive it from a visitor's browser: a cross-site POST is refused (and JSON or a custom header is
 * required, which a cross-site form cannot send without a CORS preflight this server never
 * grants), and on loopback a request naming another host (DNS rebinding) is refused too.
 */
function checkOrigin(req: IncomingMessage, method: string, listenHost: string | undefined): void {
  const host = req.headers.host ?? '';
  if (listenHost !== undefined && LOOPBACK_NAMES.has(listenHost)) {
    const name = host.replace(/:\d+$/, '');
    if (!LOOPBACK_NAMES.has(name)) throw new HttpError(403, 'The playground answers only requests addressed to this machine (127.0.0.1 or localhost).');
  }
  const origin = req.headers.origin;
  if (method !== 'GET' && method !== 'HEAD' && origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = '';
    }
    if (originHost !== host) throw new HttpError(403, 'Requests from other sites are refused.');
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `The path segment ${JSON.stringify(segment)} is not valid URI encoding.`);
  }
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
}
