/**
 * A loopback "platform" that accepts posts, so the benchmark's floor and the bot pay the same
 * cost for making a reply visible.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PlatformStub {
  readonly url: string;
  posts: number;
  post(text: string): Promise<string>;
  close(): Promise<void>;
}

export async function startPlatformStub(): Promise<PlatformStub> {
  let counter = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      counter += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: String(counter) }));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/messages`;
  const stub: PlatformStub = {
    url,
    posts: 0,
    async post(text) {
      stub.posts += 1;
      const response = await fetch(url, { method: 'POST', body: JSON.stringify({ content: text }), headers: { 'content-type': 'application/json' } });
      return ((await response.json()) as { id: string }).id;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}
