/**
 * The local playground: a web chat on the same core and store as Discord and Slack, so a
 * newcomer with only an API key can try threadline in a browser. Threads, several named
 * participants, uploads, streamed answers and an admin panel; the page is served by `handle`
 * on the bot's HTTP port, and answers stream to it over Server-Sent Events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ChatCore, ThreadReader } from '../../core/types.js';
import type { Health } from '../../http/health.js';
import { CHANNEL_ID, WORKSPACE_ID, createWebApi } from './api.js';
import { EventHub } from './events.js';
import { ActiveReplies, WebReplySink } from './outbound.js';
import { UploadStore } from './uploads.js';

/** Large enough for a long PDF; the core applies the model's own limits per file type. */
export const DEFAULT_MAX_UPLOAD_BYTES = 32 * 1024 * 1024;

export interface WebAdapterOptions {
  readonly core: ChatCore & ThreadReader;
  readonly logger: Logger;
  readonly health: Health;
  /** Where uploaded files are kept (beside the database). */
  readonly uploadsDir: string;
  readonly maxUploadBytes?: number;
  /** The address the HTTP server listens on (PLAYGROUND_HOST). */
  readonly listenHost?: string;
}

export interface WebAdapter {
  /** Serves the page and its API; mount it on the HTTP server. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

export function createWebAdapter(options: WebAdapterOptions): WebAdapter {
  const logger = options.logger.child({ adapter: 'web' });
  const hub = new EventHub();
  const active = new ActiveReplies();
  const uploads = new UploadStore(options.uploadsDir);
  const api = createWebApi({
    core: options.core,
    logger,
    hub,
    active,
    uploads,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    ...(options.listenHost === undefined ? {} : { listenHost: options.listenHost }),
  });
  let accepting = true;

  return {
    handle: (req, res) => {
      if (!accepting && req.method !== 'GET') {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'threadline is shutting down.' }));
        return;
      }
      void api(req, res);
    },
    async start() {
      options.core.registerPlatform('web', {
        urlsArePublic: false,
        download: (url, maxBytes) => uploads.download(url, maxBytes),
        // Answers owed from before a restart stream to whichever pages are open (and are stored either way).
        replySink: (thread, messageId) => new WebReplySink(hub, active, thread.threadKey, messageId),
        // Regenerate: the new answer streams under the old one's reply id, which the core then stores it under.
        replaceSink: (thread, messageId, postedIds) => new WebReplySink(hub, active, thread.threadKey, messageId, postedIds[0]),
      });
      options.health.set('web', 'ready');
      logger.debug({ workspace: WORKSPACE_ID, channel: CHANNEL_ID }, 'playground ready');
      void options.core.resumePending('web').catch((error: unknown) => logger.error({ err: error }, 'could not answer the mentions a previous run left'));
    },
    async stop() {
      accepting = false;
    },
    async close() {
      hub.close();
    },
  };
}
