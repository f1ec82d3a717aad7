/** Small HTTP helpers for the playground's API: bounded bodies, JSON answers, clear 4xx errors. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the API refuses; `message` is shown to the user as is. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The body, refused with 413 as soon as it passes `maxBytes` (never buffered beyond it). */
export async function readBody(req: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(what, declared, maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge(what, total, maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  // JSON only: a form or text/plain post from another site (no CORS preflight) is refused.
  if (type !== 'application/json') throw new HttpError(415, 'Send JSON (content-type: application/json).');
  const raw = await readBody(req, maxBytes, 'The request');
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (error) {
    throw new HttpError(400, `Malformed JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function tooLarge(what: string, size: number, maxBytes: number): HttpError {
  return new HttpError(413, `${what} is ${formatBytes(size)} or more, over the ${formatBytes(maxBytes)} limit.`);
}
