/**
 * The plain HTTP server for `/healthz` and `/metrics` (and the playground, when it runs), used
 * when no Slack HTTP receiver already serves the port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Health } from './health.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpServerOptions {
  /** Address to listen on; every interface when absent. */
  readonly host?: string;
  readonly metrics?: RouteHandler;
  /** Serves every other path (the playground); without it, they are 404s. */
  readonly app?: RouteHandler;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(port: number, health: Health, logger: Logger, options: HttpServerOptions = {}): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return health.handle(req, res);
    if (req.method === 'GET' && path === '/metrics' && options.metrics !== undefined) return options.metrics(req, res);
    if (options.app !== undefined) return options.app(req, res);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (options.host === undefined) server.listen(port, () => resolve());
    else server.listen(port, options.host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  logger.info({ port: actual, ...(options.host === undefined ? {} : { host: options.host }) }, 'HTTP server listening (/healthz, /metrics)');
  return {
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
