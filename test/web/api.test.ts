/**
 * The playground's HTTP API on the real core and a temp-file database: what it accepts, and
 * that bad input gets a clear 4xx and leaves nothing behind (no conversation, no file).
 */
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Harness } from '../helpers/harness.js';
import { startWebWorld, type WebWorld } from './setup.js';

const UPLOAD_LIMIT = 1024;

describe('playground HTTP API', () => {
  let world: WebWorld;
  let h: Harness;
  let uploadsDir: string;
  let base: string;

  beforeEach(async () => {
    world = await startWebWorld({ maxUploadBytes: UPLOAD_LIMIT });
    ({ h, uploadsDir, base } = world);
  });
  afterEach(() => world.close());

  const json = (path: string, body: unknown, headers: Record<string, string> = {}) => world.json(path, body, headers);
  const upload = (bytes: Uint8Array, name: string, type: string) =>
    fetch(`${base}/api/uploads`, { method: 'POST', headers: { 'content-type': type, 'x-file-name': encodeURIComponent(name) }, body: bytes });
  /** fetch cannot set Host; a rebinding attacker's browser sends its own name there. */
  const withHost = (path: string, host: string, body: unknown) =>
    new Promise<Response>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = request(`${base}${path}`, { method: 'POST', headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0 })));
      });
      req.on('error', reject);
      req.end(payload);
    });
  const storedThreads = () => h.core.listThreads('web', 'playground');
  const storedFiles = () => readdirSync(uploadsDir);

  it('starts a thread, answers it, and reads it back', async () => {
    expect((await h.health.snapshot()).web).toBe('ready');
    const created = await json('/api/threads', { author: 'Ann', text: 'hello there' });
    expect(created.status).toBe(201);
    const { threadId } = (await created.json()) as { threadId: string };
    await h.core.idle();
    const thread = (await (await fetch(`${base}/api/threads/${threadId}`)).json()) as { entries: Array<{ author: { name: string; kind: string }; text: string }> };
    expect(thread.entries.map((entry) => [entry.author.kind, entry.text])).toEqual([
      ['user', 'hello there'],
      ['self', 'echo: hello there'],
    ]);
    expect(((await (await fetch(`${base}/api/threads`)).json()) as { threads: Array<{ id: string; title: string }> }).threads).toEqual([
      expect.objectContaining({ id: threadId, title: 'hello there' }),
    ]);
  });

  it.each([
    ['malformed JSON', 400, () => json('/api/threads', '{"author": "Ann", "text": '), /Malformed JSON/],
    ['JSON that is not a message', 400, () => json('/api/threads', { text: 42 }), /author.*text/s],
    ['an empty message', 400, () => json('/api/threads', { author: 'Ann', text: '   ' }), /empty/],
    ['a form post (not JSON)', 415, () => fetch(`${base}/api/threads`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'author=Ann' }), /JSON/],
    ['an attachment that was never uploaded', 400, () => json('/api/threads', { author: 'Ann', text: 'see file', attachments: ['0b7ee7f5-0000-4000-8000-000000000000'] }), /no uploaded file/],
    ['a post from another site', 403, () => json('/api/threads', { author: 'Ann', text: 'hi' }, { origin: 'http://evil.example' }), /other sites/],
    ['a request for another host name (DNS rebinding)', 403, () => withHost('/api/threads', 'evil.example:80', { author: 'Ann', text: 'hi' }), /this machine/],
    ['a JSON body over the limit', 413, () => json('/api/threads', { author: 'Ann', text: 'x'.repeat(300 * 1024) }), /limit/],
  ])('refuses %s with a clear %i and stores nothing', async (_name, status, send, message) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
    await h.core.idle();
    expect(await storedThreads()).toEqual([]);
    expect(h.anthropic.messageRequests()).toEqual([]);
  });

  it('answers 404 for an unknown thread, reading or posting, and stores nothing', async () => {
    expect((await fetch(`${base}/api/threads/%E0%A4%A`)).status).toBe(400);
    for (const id of ['t-5f0e4bb4-7a4c-4d3f-9b59-6f1f0b1d2c3e', 'not-a-thread', '..%2F..%2Fetc']) {
      const read = await fetch(`${base}/api/threads/${id}`);
      expect(read.status).toBe(404);
      expect(((await read.json()) as { error: string }).error).toMatch(/no thread/);
      const post = await json(`/api/threads/${id}/messages`, { author: 'Ann', text: 'anyone?' });
      expect(post.status).toBe(404);
    }
    await h.core.idle();
    expect(await storedThreads()).toEqual([]);
  });

  it('refuses an upload over the limit with 413 and keeps no file', async () => {
    const response = await upload(new Uint8Array(UPLOAD_LIMIT + 1), 'big.png', 'image/png');
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/big\.png.*over the 1\.0 KB limit/);
    expect(storedFiles()).toEqual([]);
    // A file within the limit is kept, and served back without ever being rendered as a page.
    const ok = await upload(new TextEncoder().encode('<script>alert(1)</script>'), 'page.html', 'text/html');
    expect(ok.status).toBe(201);
    const { url } = (await ok.json()) as { url: string };
    const served = await fetch(`${base}${url}`);
    expect(served.headers.get('content-type')).toBe('application/octet-stream');
    expect(served.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(storedFiles()).toHaveLength(2);
  });

  it('refuses an upload without a file name and an empty upload', async () => {
    const unnamed = await fetch(`${base}/api/uploads`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(4) });
    expect(unnamed.status).toBe(400);
    expect((await upload(new Uint8Array(0), 'empty.png', 'image/png')).status).toBe(400);
    expect(storedFiles()).toEqual([]);
  });

  it('runs admin commands through the core, and refuses unknown commands and bad fields', async () => {
    const set = await json('/api/admin/instructions', { actor: 'Ann', fields: { action: 'set', text: 'Be brief.' } });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ ok: true, text: expect.stringMatching(/^Workspace instructions set/) });
    const show = (await (await json('/api/admin/instructions', { actor: 'Ann', fields: { action: 'show' } })).json()) as { text: string };
    expect(show.text).toContain('Be brief.');
    expect(show.text).toContain('set by Ann');
    const unknown = await json('/api/admin/launch', { fields: {} });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/instructions/);
    const bad = await json('/api/admin/instructions', { fields: { action: 'explode' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { text: string }).text).toMatch(/action/);
  });

  it('runs /settings from the admin panel: a change shows where it comes from, a bad key is refused', async () => {
    const set = await json('/api/admin/settings', { actor: 'Ann', fields: { action: 'set', key: 'answers', value: 'off' } });
    expect(set.status).toBe(200);
    expect(((await set.json()) as { ok: boolean }).ok).toBe(true);
    const show = (await (await json('/api/admin/settings', { actor: 'Ann', fields: { action: 'show' } })).json()) as { text: string };
    expect(show.text).toMatch(/answers[^\n]*off/);
    const history = (await (await json('/api/admin/settings', { actor: 'Ann', fields: { action: 'history' } })).json()) as { text: string };
    expect(history.text).toContain('Ann');
    const unknownKey = (await (await json('/api/admin/settings', { actor: 'Ann', fields: { action: 'set', key: 'colour', value: 'blue' } })).json()) as { ok: boolean; text: string };
    expect(unknownKey).toEqual({ ok: false, text: expect.stringContaining('colour') });
    const bad = await json('/api/admin/settings', { fields: { action: 'explode' } });
    expect(bad.status).toBe(400);
  });
});
