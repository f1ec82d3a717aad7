/** The playground's HTTP API on the real core and a temp-file database, for the web tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebAdapter } from '../../src/adapters/web/index.js';
import { startHealthServer } from '../../src/http/server.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';

export interface WebWorld {
  readonly h: Harness;
  readonly base: string;
  readonly uploadsDir: string;
  /** POSTs `body` as JSON (a string is sent as it is, for malformed bodies). */
  json(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startWebWorld(options: { readonly maxUploadBytes?: number } = {}): Promise<WebWorld> {
  const h = await createCoreHarness();
  const uploadsDir = mkdtempSync(join(tmpdir(), 'threadline-uploads-'));
  h.health.enable('web');
  const web = createWebAdapter({
    core: h.core,
    logger: h.logger,
    health: h.health,
    uploadsDir,
    listenHost: '127.0.0.1',
    ...(options.maxUploadBytes === undefined ? {} : { maxUploadBytes: options.maxUploadBytes }),
  });
  await web.start();
  const server = await startHealthServer(0, h.health, h.logger, { host: '127.0.0.1', app: web.handle });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    h,
    base,
    uploadsDir,
    json: (path, body, headers = {}) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
    async close() {
      await web.close();
      await server.close();
      await h.close();
      rmSync(uploadsDir, { recursive: true, force: true });
    },
  };
}
