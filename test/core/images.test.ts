import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttachmentInput, PlatformServices, RefreshedUrl } from '../../src/core/types.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { IMAGE_BYTES, signedUrl } from '../helpers/images.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

const HOUR = 3600_000;
const CDN = 'https://cdn.discordapp.test';

type Block = { type: string; text?: string; source?: { type: string; url?: string; file_id?: string; data?: string } };
type Body = { messages: Array<{ role: string; content: Block[] }> };

const image = (name: string, url: string, over: Partial<AttachmentInput> = {}): AttachmentInput => ({
  id: `att-${name}`, name, mediaType: 'image/png', size: 1000, width: 800, height: 600, url, urlExpiresAt: null, ...over,
});

function blocksOf(h: Harness, i: number): Block[] {
  return (h.anthropic.messageRequests()[i]?.body as unknown as Body).messages.flatMap((m) => m.content);
}

describe('images on a platform whose URLs the API fetches itself (Discord)', () => {
  let h: Harness;
  let refreshCalls: string[][];
  let refreshable: Set<string>;
  const services = (): PlatformServices => ({
    urlsArePublic: true,
    async refreshUrls(urls) {
      refreshCalls.push([...urls]);
      const fresh = new Map<string, RefreshedUrl>();
      for (const url of urls) {
        const name = /attachments\/100\/([^/]+)\//.exec(url)?.[1] ?? 'x';
        if (refreshable.has(name)) fresh.set(url, { url: signedUrl(CDN, name, Date.now() + 24 * HOUR, 'fresh'), expiresAt: Date.now() + 24 * HOUR });
      }
      return fresh;
    },
    async download(url) {
      if (url.includes('odd.png')) return { bytes: IMAGE_BYTES['image/png'] as Buffer, contentType: 'image/png' };
      throw new Error('gone');
    },
  });

  beforeEach(async () => {
    h = await createCoreHarness();
    refreshCalls = [];
    refreshable = new Set(['old.png']);
    h.core.registerPlatform('discord', services());
  });
  afterEach(async () => h.close());

  it('sends every image of the thread, refreshing only the expired link, once', async () => {
    const expired = signedUrl(CDN, 'old.png', Date.now() - HOUR);
    const valid = signedUrl(CDN, 'new.png', Date.now() + 20 * HOUR);
    await h.core.handle(inbound('what is this?', { mentionsBot: true, attachments: [image('old.png', expired, { urlExpiresAt: Date.now() - HOUR })] }), { sink: recordingSink });
    await h.core.handle(inbound('filler one'), { sink: recordingSink });
    await h.core.handle(inbound('filler two'), { sink: recordingSink });
    await h.core.handle(inbound('compare both', { mentionsBot: true, attachments: [image('new.png', valid, { urlExpiresAt: Date.now() + 20 * HOUR })] }), { sink: recordingSink });
    expect(refreshCalls).toEqual([[expired]]);
    const last = h.anthropic.messageRequests().length - 1;
    const urls = blocksOf(h, last).filter((b) => b.type === 'image').map((b) => b.source?.url);
    expect(urls).toHaveLength(2);
    expect(urls[0]).toContain('hm=fresh');
    expect(urls[1]).toBe(valid);
    // The refreshed link was stored: every later request sends the same bytes (prompt cache).
    expect(JSON.stringify(blocksOf(h, 1).filter((b) => b.type === 'image')[0])).toBe(JSON.stringify(blocksOf(h, last).filter((b) => b.type === 'image')[0]));
  });

  it('refreshes the link of an image from an earlier turn once it is about to expire, with no change to its message', async () => {
    let now = Date.now();
    await h.close();
    h = await createCoreHarness({ now: () => now });
    h.core.registerPlatform('discord', services());
    refreshable.add('later.png');
    const expiresAt = now + 2 * HOUR;
    const url = signedUrl(CDN, 'later.png', expiresAt);
    await h.core.handle(inbound('what is this?', { mentionsBot: true, attachments: [image('later.png', url, { urlExpiresAt: expiresAt })] }), { sink: recordingSink });
    expect(refreshCalls).toEqual([]);
    now = expiresAt - 5 * 60_000;
    await h.core.handle(inbound('and in more detail?', { mentionsBot: true, createdAt: now }), { sink: recordingSink });
    expect(refreshCalls).toEqual([[url]]);
    const urls = blocksOf(h, 1).filter((b) => b.type === 'image').map((b) => b.source?.url);
    expect(urls).toHaveLength(1);
    expect(urls[0]).toContain('hm=fresh');
  });

  it('drops an image whose link cannot be refreshed, tells the user and the model, and still answers', async () => {
    const dead = signedUrl(CDN, 'dead.png', Date.now() - HOUR);
    const sink = recordingSink();
    const outcome = await h.core.handle(inbound('see?', { mentionsBot: true, attachments: [image('dead.png', dead, { urlExpiresAt: Date.now() - HOUR })] }), { sink: () => sink });
    expect(outcome.kind).toBe('answered');
    expect(sink.finished[0]?.note).toMatch(/couldn't look at dead\.png: its link has expired/);
    expect(blocksOf(h, 0).some((b) => b.type === 'image')).toBe(false);
    expect(JSON.stringify(blocksOf(h, 0))).toMatch(/dead\.png.*not shown/);
  });

  it('falls back to downloading and uploading when the API cannot fetch a link', async () => {
    // Valid by our clock, but the fake API refuses it (unsigned links are not served).
    const unsigned = `${CDN}/attachments/100/odd.png/odd.png?ex=${Math.floor((Date.now() + 20 * HOUR) / 1000).toString(16)}`;
    const sink = recordingSink();
    await h.core.handle(inbound('look', { mentionsBot: true, attachments: [image('odd.png', unsigned, { urlExpiresAt: Date.now() + 20 * HOUR })] }), { sink: () => sink });
    const statuses = h.anthropic.messageRequests().map((r) => r.status);
    expect(statuses).toEqual([400, 200]);
    expect(sink.finished).toHaveLength(1);
    const sent = blocksOf(h, 1).find((b) => b.type === 'image');
    expect(sent?.source?.type).toBe('file');
    expect(h.anthropic.files.size).toBe(1);
  });
});

describe('images on a platform with private files (Slack)', () => {
  let h: Harness;
  let downloads: string[];
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  beforeEach(async () => {
    h = await createCoreHarness();
    downloads = [];
    h.core.registerPlatform('discord', {
      urlsArePublic: false,
      async download(url, maxBytes) {
        downloads.push(url);
        const file = files.get(url);
        if (file === undefined) throw new Error('404');
        if (file.bytes.length > maxBytes) throw new Error(`over the ${maxBytes}-byte limit`);
        return { bytes: file.bytes, contentType: file.contentType };
      },
    });
  });
  afterEach(async () => h.close());

  it('downloads once, uploads once, and sends the same file block on later turns', async () => {
    files.set('https://files.slack.test/shot.png', { bytes: IMAGE_BYTES['image/png'] as Buffer, contentType: 'image/png' });
    await h.core.handle(inbound('describe', { mentionsBot: true, attachments: [image('shot.png', 'https://files.slack.test/shot.png')] }), { sink: recordingSink });
    await h.core.handle(inbound('and again', { mentionsBot: true }), { sink: recordingSink });
    expect(downloads).toEqual(['https://files.slack.test/shot.png']);
    const first = blocksOf(h, 0).find((b) => b.type === 'image');
    const second = blocksOf(h, 1).find((b) => b.type === 'image');
    expect(first?.source?.type).toBe('file');
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
  });

  it.each([
    ['image/gif', 'anim.gif', true],
    ['image/webp', 'pic.webp', true],
    ['image/jpeg', 'photo.jpg', true],
  ])('accepts %s', async (type, name) => {
    files.set(`https://files.slack.test/${name}`, { bytes: IMAGE_BYTES[type] as Buffer, contentType: type });
    await h.core.handle(inbound('?', { mentionsBot: true, attachments: [image(name, `https://files.slack.test/${name}`, { mediaType: type })] }), { sink: recordingSink });
    expect(blocksOf(h, 0).filter((b) => b.type === 'image')).toHaveLength(1);
  });

  it.each([
    ['image/bmp', 'old.bmp', /old\.bmp \(image\/bmp.*cannot be shown/],
  ])('notes %s files instead of sending them', async (type, name, note) => {
    await h.core.handle(inbound('?', { mentionsBot: true, attachments: [image(name, `https://files.slack.test/${name}`, { mediaType: type })] }), { sink: recordingSink });
    const blocks = blocksOf(h, 0);
    expect(blocks.some((b) => b.type === 'image')).toBe(false);
    expect(JSON.stringify(blocks)).toMatch(note);
    expect(downloads).toEqual([]);
  });

  it('rejects an HTML sign-in page served instead of the image, with a note to the user', async () => {
    files.set('https://files.slack.test/login.png', { bytes: Buffer.from('<!DOCTYPE html><html>Sign in</html>'), contentType: 'text/html; charset=utf-8' });
    const sink = recordingSink();
    await h.core.handle(inbound('?', { mentionsBot: true, attachments: [image('login.png', 'https://files.slack.test/login.png')] }), { sink: () => sink });
    expect(sink.finished[0]?.note).toMatch(/couldn't look at login\.png: the platform returned a web page/);
    expect(blocksOf(h, 0).some((b) => b.type === 'image')).toBe(false);
  });

  it('skips an image over the size limit without downloading it, and says why', async () => {
    const sink = recordingSink();
    await h.core.handle(inbound('big', { mentionsBot: true, attachments: [image('huge.png', 'https://files.slack.test/huge.png', { size: 12 * 1024 * 1024 })] }), { sink: () => sink });
    expect(downloads).toEqual([]);
    expect(sink.finished[0]?.note).toMatch(/huge\.png: it is 12\.0 MB, over the 7\.5 MB limit/);
  });

  it('inlines a text attachment once and keeps it', async () => {
    files.set('https://files.slack.test/notes.md', { bytes: Buffer.from('# Plan\n- ship it'), contentType: 'text/markdown' });
    const attachment = image('notes.md', 'https://files.slack.test/notes.md', { mediaType: 'text/markdown', width: null, height: null });
    await h.core.handle(inbound('read this', { mentionsBot: true, attachments: [attachment] }), { sink: recordingSink });
    await h.core.handle(inbound('again', { mentionsBot: true }), { sink: recordingSink });
    expect(downloads).toHaveLength(1);
    expect(JSON.stringify(blocksOf(h, 1))).toContain('- ship it');
  });

  it('a 25-image thread respects the many-image limits, and an image-only mention is answered', async () => {
    await h.close();
    h = await createCoreHarness({ followUpWithoutMention: false });
    h.core.registerPlatform('discord', { urlsArePublic: false, download: async (url) => ({ bytes: (files.get(url) as { bytes: Buffer }).bytes, contentType: 'image/png' }) });
    for (let i = 0; i < 25; i += 1) {
      const url = `https://files.slack.test/${i}.png`;
      files.set(url, { bytes: IMAGE_BYTES['image/png'] as Buffer, contentType: 'image/png' });
      const size = i === 2 ? { width: 4000, height: 3000 } : { width: 1000, height: 800 };
      await h.core.handle(inbound(i === 0 ? 'start' : '', { mentionsBot: i === 0 || i === 24, attachments: [image(`${i}.png`, url, size)] }), { sink: recordingSink });
    }
    const requests = h.anthropic.messageRequests();
    expect(requests.map((r) => r.status)).toEqual([200, 200]);
    const blocks = blocksOf(h, 1);
    expect(blocks.filter((b) => b.type === 'image')).toHaveLength(24);
    expect(JSON.stringify(blocks)).toMatch(/2\.png not shown: a request with more than 20 images may only carry images up to 2000 px/);
    expect(blocks.at(-1)?.text).toMatch(/sent an image without text: describe it/);
  });

  it('tells the user, once, under the answer when files they just posted had to be left out', async () => {
    const attachments = Array.from({ length: 25 }, (_, i) => {
      const url = `https://files.slack.test/big-${i}.png`;
      files.set(url, { bytes: IMAGE_BYTES['image/png'] as Buffer, contentType: 'image/png' });
      return image(`big-${i}.png`, url, { width: 3000, height: 3000 });
    });
    const sink = recordingSink();
    await h.core.handle(inbound('compare all of them', { mentionsBot: true, attachments }), { sink: () => sink });
    expect(h.anthropic.messageRequests().map((r) => r.status)).toEqual([200]);
    expect(blocksOf(h, 0).filter((b) => b.type === 'image')).toHaveLength(20);
    expect(sink.finished[0]?.note).toBe(
      "I couldn't include big-0.png, big-1.png, big-2.png, big-3.png, big-4.png: one request to Claude can carry only so many images and PDF pages, and the newest were kept.",
    );
    const later = recordingSink();
    await h.core.handle(inbound('and now?', { mentionsBot: true }), { sink: () => later });
    expect(later.finished[0]?.note).toBeUndefined();
  });
});
