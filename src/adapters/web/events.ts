/**
 * Server-Sent Events to every open playground page: new messages, answers as they stream, and
 * thread list changes. One stream per page; each event names its thread, and the page shows
 * those of the thread it has open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnswerControlIds } from './controls.js';

export type PlaygroundEvent =
  | { readonly type: 'message'; readonly threadId: string; readonly entry: unknown }
  /** `replaces`: a regeneration, written into the answer already shown under this reply id. */
  | { readonly type: 'reply-start'; readonly threadId: string; readonly replyId: string; readonly replyTo: string; readonly replaces?: true }
  | { readonly type: 'reply-progress'; readonly threadId: string; readonly replyId: string; readonly text: string }
  /** `controls`: the ids of the buttons under the finished answer (Regenerate, 👍, 👎). */
  | { readonly type: 'reply-done'; readonly threadId: string; readonly replyId: string; readonly text: string; readonly note?: string; readonly controls?: AnswerControlIds }
  | { readonly type: 'reply-failed'; readonly threadId: string; readonly replyId: string; readonly text: string }
  | { readonly type: 'threads'; readonly threadId: string };

/** Comments every 20 s keep proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 20_000;

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;

  constructor() {
    this.keepalive = setInterval(() => {
      for (const client of this.clients) client.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  publish(event: PlaygroundEvent): void {
    const frame = `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    for (const client of this.clients) client.write(frame);
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}
