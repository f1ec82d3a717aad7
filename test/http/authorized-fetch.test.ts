import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authorizedFetch } from '../../src/http/authorized-fetch.js';
import { IMAGE_BYTES } from '../helpers/images.js';

const TOKEN = 'xoxb-secret-token-123';

async function serve(handler: (path: string, headers: IncomingHttpHeaders) => { status: number; headers?: Record<string, string>; body?: Buffer | string }) {
  const seen: Array<{ path: string; authorization: string | undefined }> = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    const answer = handler(req.url ?? '', req.headers);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, seen, port: (server.address() as AddressInfo).port };
}

describe('authorizedFetch', () => {
  let servers: Server[];
  beforeEach(() => {
    servers = [];
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('sends the token to allowed hosts only, even across redirects', async () => {
    // "localhost" and "127.0.0.1" are the same machine but different hosts: the foreign one must not see the token.
    const foreign = await serve(() => ({ status: 200, headers: { 'content-type': 'image/png' }, body: IMAGE_BYTES['image/png'] }));
    const slack = await serve((path) =>
      path === '/files/a.png' ? { status: 302, headers: { location: `http://localhost:${foreign.port}/cdn/a.png` } } : { status: 404 },
    );
    servers.push(foreign.server, slack.server);
    const result = await authorizedFetch(`http://127.0.0.1:${slack.port}/files/a.png`, { token: TOKEN, allowHost: (host) => host === '127.0.0.1', maxBytes: 1000 });
    expect(result.contentType).toBe('image/png');
    expect(Buffer.compare(result.bytes, IMAGE_BYTES['image/png'] as Buffer)).toBe(0);
    expect(slack.seen[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(foreign.seen).toEqual([{ path: '/cdn/a.png', authorization: undefined }]);
    expect(result.hops.map((hop) => hop.withToken)).toEqual([true, false]);
  });

  it('refuses a file larger than the limit by its declared length and while reading', async () => {
    const big = await serve(() => ({ status: 200, headers: { 'content-type': 'image/png', 'content-length': '5000' }, body: Buffer.alloc(5000) }));
    servers.push(big.server);
    await expect(authorizedFetch(`http://127.0.0.1:${big.port}/x`, { token: TOKEN, allowHost: () => true, maxBytes: 100 })).rejects.toThrow(/over the 100-byte limit/);
  });

  it('reports HTTP errors and redirect loops', async () => {
    const loop = await serve((path) => (path === '/404' ? { status: 404 } : { status: 302, headers: { location: '/again' } }));
    servers.push(loop.server);
    await expect(authorizedFetch(`http://127.0.0.1:${loop.port}/404`, { token: TOKEN, allowHost: () => true, maxBytes: 100 })).rejects.toThrow(/HTTP 404/);
    await expect(authorizedFetch(`http://127.0.0.1:${loop.port}/a`, { token: TOKEN, allowHost: () => true, maxBytes: 100 })).rejects.toThrow(/too many redirects/);
  });
});
