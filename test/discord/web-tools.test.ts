/** Web tools on Discord: the real discord.js adapter and core against the fake Discord and fake Messages API. */
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

describe('Discord: web search and fetch', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('says what it is reading while a link is fetched, and ends the answer with its source as a link without a preview', async () => {
    w = await startDiscordWorld({
      webTools: { fetch: true },
      anthropic: { web: { pages: { 'https://docs.example.com/guide': { title: 'The Guide', text: 'Install it with npm, then run it.' } } } },
    });
    w.h.anthropic.enqueue({ text: 'In short: install it and run it. @everyone' });
    const release = w.h.anthropic.holdToolResults();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('what does https://docs.example.com/guide say?'));
    // While the page is read, the progress message says so.
    await w.discord.rest.waitFor((r) => r.method === 'POST' && (r.body as { content?: string } | null)?.content === '-# 📖 Reading docs.example.com…', 'the reading status');
    release();
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();

    const writes = w.discord.rest.entries.filter((r) => (r.method === 'POST' || r.method === 'PATCH') && r.path.startsWith(`/channels/${mention.id}/messages`));
    const contents = writes.map((r) => String((r.body as { content?: string }).content ?? ''));
    expect(contents[0]).toBe('-# 📖 Reading docs.example.com…');
    const [answer] = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(answer).toMatch(/^The page says: Install it with npm, then run it\. In short: install it and run it\. @\u200Beveryone\n\nSources:\n1\. \[The Guide\]\(<https:\/\/docs\.example\.com\/guide>\)$/);
    for (const write of writes) expect((write.body as { allowed_mentions?: { parse?: unknown[] } }).allowed_mentions?.parse).toEqual([]);
  });

  it('shows "Searching the web…" and lists search sources once each', async () => {
    w = await startDiscordWorld({ webTools: { search: true, fetch: false } });
    w.h.anthropic.enqueue({ toolCalls: [{ search: 'node release' }, { search: 'node release' }], text: 'Node 24 is current.' });
    const release = w.h.anthropic.holdToolResults();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('which node is current?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && (r.body as { content?: string } | null)?.content === '-# 🔎 Searching the web…', 'the searching status');
    release();
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const contents = w.discord.rest.entries
      .filter((r) => (r.method === 'POST' || r.method === 'PATCH') && r.path.startsWith(`/channels/${mention.id}/messages`))
      .map((r) => String((r.body as { content?: string }).content ?? ''));
    expect(contents[0]).toBe('-# 🔎 Searching the web…');
    const [answer] = w.discord.botMessages(mention.id).map((m) => m.content);
    const sources = answer?.split('Sources:\n')[1]?.split('\n');
    expect(sources).toEqual([
      '1. [Result 1 for node release](<https://results.example/node-release/1>)',
      '2. [Result 2 for node release](<https://results.example/node-release/2>)',
    ]);
  });

  it('continues a paused turn, and a fetch that fails with no answer text ends in a clear message', async () => {
    w = await startDiscordWorld({ webTools: { search: true, fetch: true }, anthropic: { web: { pages: { 'https://down.example.com/': { title: 'x', text: 'x', error: 'url_not_accessible' } } } } });
    w.h.anthropic.enqueue({ toolCalls: [{ search: 'status page' }, { fetch: 'https://results.example/status-page/1' }], pauses: 1, text: 'All systems go.' });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('is it up?'));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests().map((r) => r.status)).toEqual([200, 200]);
    const [answer] = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(answer).toContain('All systems go.\n\nSources:\n1. [Result 1 for status page](<https://results.example/status-page/1>)');

    w.h.anthropic.enqueue({ text: '' });
    w.discord.post(mention.id, w.alice, 'and https://down.example.com/ ?');
    await w.h.anthropic.waitForRequests(3);
    await w.h.core.idle();
    const last = w.discord.botMessages(mention.id).at(-1)?.content;
    expect(last).toBe('⚠️ I could not answer: could not read down.example.com: it could not be reached.');
  });
});
