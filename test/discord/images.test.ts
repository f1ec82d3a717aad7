import { afterEach, describe, expect, it } from 'vitest';
import { snowflake } from '../fakes/discord/fake-discord.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

type Block = { type: string; text?: string; source?: { type: string; url?: string } };
type Body = { messages: Array<{ role: string; content: Block[] }> };
const blocks = (w: DiscordWorld, i: number) => (w.h.anthropic.messageRequests()[i]?.body as unknown as Body).messages.flatMap((m) => m.content);

describe('Discord images', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('sees an image posted a day ago (expired link, refreshed once) and a new one now', async () => {
    let threadId = '';
    let oldUrl = '';
    w = await startDiscordWorld({
      before: (discord) => {
        const parent = discord.addTextChannel('photos');
        threadId = discord.addThread(parent.id, 'cats', snowflake(), false).id;
        const old = discord.attachment('yesterday.png', 'image/png', { expiresAt: Date.now() - 3600_000, width: 640, height: 480 });
        oldUrl = old.url;
        discord.seed(threadId, discord.user('100000000000000002', 'Bob'), 'my cat yesterday', { attachments: [old] });
        discord.seed(threadId, discord.user('100000000000000002', 'Bob'), 'nice weather');
      },
    });
    const fresh = w.discord.attachment('today.png', 'image/png', { width: 640, height: 480 });
    w.discord.post(threadId, w.alice, w.discord.mention('is this the same cat?'), { attachments: [fresh] });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const refreshes = w.discord.rest.entries.filter((r) => r.path === '/attachments/refresh-urls');
    expect(refreshes.map((r) => (r.body as { attachment_urls: string[] }).attachment_urls)).toEqual([[oldUrl]]);
    const request = w.h.anthropic.messageRequests()[0];
    expect(request?.status).toBe(200);
    const images = blocks(w, 0).filter((b) => b.type === 'image').map((b) => b.source?.url ?? '');
    expect(images).toHaveLength(2);
    expect(images[0]).toContain('hm=fresh');
    expect(images[1]).toBe(fresh.url);
    // A later turn sends the very same blocks (no second refresh, same bytes for the cache).
    w.discord.post(threadId, w.alice, w.discord.mention('and now?'));
    await w.h.anthropic.waitForRequests(2);
    expect(w.discord.rest.entries.filter((r) => r.path === '/attachments/refresh-urls')).toHaveLength(1);
    expect(JSON.stringify(blocks(w, 1).filter((b) => b.type === 'image'))).toBe(JSON.stringify(blocks(w, 0).filter((b) => b.type === 'image')));
  });

  it('drops an image whose link cannot be refreshed, tells the user why, and still answers', async () => {
    w = await startDiscordWorld();
    const dead = w.discord.attachment('deleted.png', 'image/png', { expiresAt: Date.now() - 3600_000 });
    w.discord.unrefreshable.add(dead.url);
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('what is in it?'), { attachments: [dead] });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const [reply] = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(reply).toMatch(/^echo: what is in it\?/);
    expect(reply).toMatch(/-# I couldn't look at deleted\.png: its link has expired/);
    expect(JSON.stringify(blocks(w, 0))).toMatch(/deleted\.png.*not shown/);
  });

  it('answers an image-only mention, and notes files it cannot show', async () => {
    w = await startDiscordWorld();
    const photo = w.discord.attachment('photo.webp', 'image/webp', { width: 100, height: 100 });
    const pdf = w.discord.attachment('report.pdf', 'application/pdf', { size: 2_000_000 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention(''), { attachments: [photo, pdf] });
    await w.h.anthropic.waitForRequests(1);
    const sent = blocks(w, 0);
    expect(sent.filter((b) => b.type === 'image')).toHaveLength(1);
    expect(sent.at(-1)?.text).toMatch(/sent an image without text: describe it[\s\S]*report\.pdf \(application\/pdf, 1\.9 MB\) not shown/);
    void mention;
  });
});
