/**
 * Web search and web fetch end to end: the real core and the real SDK against the fake
 * Messages API, which runs the server tools deterministically and rejects what the API would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { validateRequest } from '../fakes/anthropic-rules.js';
import { createCoreHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

type Block = { type: string; text?: string; citations?: unknown };
type Body = { tools?: unknown[]; messages: Array<{ role: string; content: Block[] }> };

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(options: HarnessOptions): Promise<Harness> {
  h = await createCoreHarness(options);
  return h;
}

const bodies = (harness: Harness) => harness.anthropic.messageRequests().map((request) => request.body as unknown as Body);
const storedAnswers = async (harness: Harness) => {
  const conversation = await harness.store.conversations.find(inbound('x').thread);
  return (await harness.store.messages.thread(conversation?.id ?? -1)).filter((m) => m.role === 'assistant').map((m) => m.text);
};

describe('web tools through the real SDK and the fake Messages API', () => {
  it('fetches a link posted in the thread, shows it running, and ends the answer with its source', async () => {
    const t = await harness({
      webTools: { fetch: true },
      anthropic: { web: { pages: { 'https://docs.example.com/guide': { title: 'The Guide', text: 'Install with npm. Then run it.' } } } },
    });
    const sink = recordingSink();
    const outcome = await t.core.handle(inbound('what does https://docs.example.com/guide say?', { mentionsBot: true }), { sink: () => sink });
    expect(outcome.kind).toBe('answered');
    const [first] = bodies(t);
    expect(first?.tools).toEqual([{ type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 5, citations: { enabled: true } }]);
    expect(sink.activities).toEqual([{ kind: 'fetch', url: 'https://docs.example.com/guide' }]);
    expect(sink.finished[0]?.text).toContain('The page says: Install with npm.');
    expect(sink.finished[0]?.sources).toEqual([{ url: 'https://docs.example.com/guide', title: 'The Guide' }]);
    // What is stored is what people saw: the answer and its source list, no tool blocks.
    expect((await storedAnswers(t))[0]).toMatch(/Install with npm\.[\s\S]*\n\nSources:\n1\. The Guide \(https:\/\/docs\.example\.com\/guide\)$/);

    // The next request is valid: plain text where the tool blocks and citations were.
    await t.core.handle(inbound('thanks, and in short?'), { sink: recordingSink });
    const second = bodies(t)[1] as Body;
    expect(t.anthropic.messageRequests()[1]?.status).toBe(200);
    const assistantBlocks = second.messages.filter((m) => m.role === 'assistant').flatMap((m) => m.content);
    expect(assistantBlocks.map((b) => b.type)).toEqual(['text']);
    expect(assistantBlocks[0]).not.toHaveProperty('citations');
    expect(assistantBlocks[0]?.text).toContain('Sources:\n1. The Guide');
  });

  it('lists the sources of a search answer once each, at most five, in the order cited', async () => {
    const hit = (n: number) => ({ url: `https://news.example.com/story-${n}`, title: `Story ${n}` });
    const t = await harness({
      webTools: { search: true, fetch: false },
      anthropic: {
        web: {
          searches: {
            'cve 2.4': [hit(1), hit(2)],
            'cve 2.4 fixed': [{ ...hit(2), url: 'https://NEWS.example.com/story-2/#top' }, hit(3)],
            'cve 2.4 advisory': [hit(4), hit(5)],
            'cve 2.4 patch': [hit(6), hit(7)],
          },
        },
      },
    });
    t.anthropic.enqueue({ toolCalls: [{ search: 'cve 2.4' }, { search: 'cve 2.4 fixed' }], text: 'Yes, fixed in 2.4.1.' });
    const sink = recordingSink();
    await t.core.handle(inbound('is the CVE fixed in 2.4?', { mentionsBot: true }), { sink: () => sink });
    expect(sink.activities).toEqual([
      { kind: 'search', query: 'cve 2.4' },
      { kind: 'search', query: 'cve 2.4 fixed' },
    ]);
    expect(sink.finished[0]?.sources?.map((s) => s.title)).toEqual(['Story 1', 'Story 2', 'Story 3']);
    expect(bodies(t)[0]?.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }]);

    t.anthropic.enqueue({ toolCalls: [{ search: 'cve 2.4' }, { search: 'cve 2.4 advisory' }, { search: 'cve 2.4 patch' }], text: 'More.' });
    const many = recordingSink();
    await t.core.handle(inbound('tell me more'), { sink: () => many });
    expect(many.finished[0]?.sources?.map((s) => s.title)).toEqual(['Story 1', 'Story 2', 'Story 4', 'Story 5', 'Story 6']);
    const usage = await t.store.usage.report('discord', 'guild-1', 0, 'channel');
    expect(usage[0]).toMatchObject({ webSearchRequests: 5, webFetchRequests: 0 });
  });

  it('continues a paused turn by sending its content back unchanged, and stops after a bounded number of continuations', async () => {
    const t = await harness({ webTools: { search: true, fetch: true } });
    t.anthropic.enqueue({ preamble: 'Let me look.', toolCalls: [{ search: 'release notes' }, { fetch: 'https://results.example/release-notes/1' }], pauses: 1, text: 'Here is the summary.' });
    const sink = recordingSink();
    await t.core.handle(inbound('what changed?', { mentionsBot: true }), { sink: () => sink });
    const requests = t.anthropic.messageRequests();
    expect(requests.map((r) => r.status)).toEqual([200, 200]);
    const [paused, continued] = bodies(t) as [Body, Body];
    expect(continued.tools).toEqual(paused.tools);
    expect(continued.messages.slice(0, -1)).toEqual(paused.messages);
    const sentBack = continued.messages.at(-1);
    expect(sentBack?.role).toBe('assistant');
    expect(sentBack?.content.map((b) => b.type)).toEqual(['text', 'server_tool_use', 'web_search_tool_result']);
    expect(sink.activities.map((a) => a.kind)).toEqual(['search', 'fetch']);
    const text = sink.finished[0]?.text ?? '';
    expect(text.startsWith('Let me look.\n\n')).toBe(true);
    expect(text.endsWith('Here is the summary.')).toBe(true);
    expect(sink.finished[0]?.sources?.[0]?.url).toBe('https://results.example/release-notes/1');

    // A turn that keeps pausing ends after three continuations with a clear message.
    t.anthropic.enqueue({ toolCalls: Array.from({ length: 8 }, (_, i) => ({ search: `q${i}` })), pauses: 8, text: '' });
    const stuck = recordingSink();
    const outcome = await t.core.handle(inbound('dig deep'), { sink: () => stuck });
    expect(t.anthropic.messageRequests()).toHaveLength(2 + 4);
    expect(outcome.kind).toBe('failed');
    expect(stuck.failed[0]?.message).toMatch(/ran out of steps/);
  });

  it.each([
    { name: 'url_not_accessible', page: { title: 'x', text: 'x', error: 'url_not_accessible' }, expected: /Could not read down\.example\.com: it could not be reached/ },
    { name: 'unsupported_content_type', page: { title: 'x', text: 'x', error: 'unsupported_content_type' }, expected: /only text, HTML and PDF/ },
    { name: 'too_many_requests', page: { title: 'x', text: 'x', error: 'too_many_requests' }, expected: /too many requests/ },
  ])('a fetch failing with $name still ends in a message, with or without text from the model', async ({ page, expected }) => {
    const t = await harness({ webTools: { fetch: true }, anthropic: { web: { pages: { 'https://down.example.com/': page } } } });
    const withText = recordingSink();
    await t.core.handle(inbound('read https://down.example.com/', { mentionsBot: true }), { sink: () => withText });
    expect(withText.finished[0]?.note).toMatch(expected);
    expect(withText.finished[0]?.sources).toBeUndefined();

    t.anthropic.enqueue({ toolCalls: [{ fetch: 'https://down.example.com/' }], text: '' });
    const silent = recordingSink();
    await t.core.handle(inbound('again please'), { sink: () => silent });
    expect(silent.failed[0]?.message).toMatch(/^I could not answer: /);
    expect(silent.failed[0]?.message).toMatch(expected.source.startsWith('Could') ? new RegExp(expected.source.replace('Could', 'could')) : expected);
  });

  it('a search past max_uses and a link nobody posted end in notes naming them', async () => {
    const t = await harness({ webTools: { search: true, fetch: true }, webToolLimits: { searchMaxUses: 1, fetchMaxUses: 2 } });
    t.anthropic.enqueue({ toolCalls: [{ search: 'a' }, { search: 'b' }, { fetch: 'https://secret.example.com/x' }], text: 'Partial answer.' });
    const sink = recordingSink();
    await t.core.handle(inbound('look it up', { mentionsBot: true }), { sink: () => sink });
    expect(bodies(t)[0]?.tools).toEqual([
      { type: 'web_search_20250305', name: 'web_search', max_uses: 1 },
      { type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 2, citations: { enabled: true } },
    ]);
    expect(sink.finished[0]?.note).toContain('Web search reached its limit of searches for one answer.');
    expect(sink.finished[0]?.note).toContain('Could not read secret.example.com: I can only open links posted in the conversation');
    // Failed searches are free: one billed.
    expect(await t.store.usage.searchesSince('discord', 'guild-1', 0)).toBe(1);
  });

  it('sends no tools with both switches off, and the same tool bytes on every request while they stay on', async () => {
    const off = await createCoreHarness({ webTools: { search: false, fetch: false } });
    try {
      await off.core.handle(inbound('read https://example.com/ please', { mentionsBot: true }), { sink: recordingSink });
      expect(off.anthropic.messageRequests()[0]?.body).not.toHaveProperty('tools');
    } finally {
      await off.close();
    }

    const t = await harness({ webTools: { search: true, fetch: true }, anthropic: { minCacheableTokens: 0, web: {} } });
    for (let turn = 0; turn < 10; turn += 1) {
      const text = turn % 3 === 1 ? `search for item ${turn} and read https://example.com/${turn}` : `question ${turn} ${'with some words '.repeat(20)}`;
      await t.core.handle(inbound(text, { mentionsBot: turn === 0 }), { sink: recordingSink });
    }
    const requests = t.anthropic.messageRequests();
    expect(requests.length).toBeGreaterThanOrEqual(10);
    expect(new Set(requests.map((r) => JSON.stringify((r.body as unknown as Body).tools))).size).toBe(1);
    expect(requests.every((r) => r.status === 200)).toBe(true);
    // Every request after the first reads the previous one's prefix from the cache.
    expect(requests.slice(1).every((r) => (r.usage?.cache_read_input_tokens ?? 0) > 0)).toBe(true);
    // No tool block or citation ever reaches a later request.
    for (const body of bodies(t)) {
      const blocks = body.messages.flatMap((m) => m.content);
      expect(blocks.every((b) => b.type === 'text' && b.citations === undefined)).toBe(true);
      expect(validateRequest(body as never)).toBeUndefined();
    }
  });

  it('turns web search off for the rest of the UTC day once the daily search budget is spent, and says so', async () => {
    const t = await harness({ webTools: { search: true, fetch: true }, dailySearchBudget: 3 });
    t.anthropic.enqueue({ toolCalls: [{ search: 'one' }, { search: 'two' }], text: 'First.' });
    await t.core.handle(inbound('search twice', { mentionsBot: true }), { sink: recordingSink });
    expect(bodies(t)[0]?.tools?.[0]).toEqual({ type: 'web_search_20250305', name: 'web_search', max_uses: 3 });

    // One search left: this reply may make only one.
    t.anthropic.enqueue({ toolCalls: [{ search: 'three' }], text: 'Second.' });
    await t.core.handle(inbound('and once more'), { sink: recordingSink });
    expect(bodies(t)[1]?.tools?.[0]).toEqual({ type: 'web_search_20250305', name: 'web_search', max_uses: 1 });

    const sink = recordingSink();
    await t.core.handle(inbound('search again'), { sink: () => sink });
    expect(bodies(t)[2]?.tools).toEqual([{ type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 5, citations: { enabled: true } }]);
    expect(sink.finished[0]?.note).toMatch(/Web search is off until midnight UTC: this server has used its 3 searches for today/);
    expect(sink.activities).toEqual([]);

    const usage = await t.core.runUsageCommand({ platform: 'discord', workspaceId: 'guild-1', actor: { id: 'admin', name: 'Admin', isAdmin: true }, days: 1 });
    expect(usage.text).toContain('Web tools: 3 searches (about $0.03 at $10 per 1,000, plus their tokens), 0 pages read');
    expect(usage.text).toContain('3 web searches');
  });

  it('answers without the tools when the API refuses them, and stops sending them', async () => {
    const t = await harness({ webTools: { search: true, fetch: true }, anthropic: { validate: { serverTools: false } } });
    const sink = recordingSink();
    await t.core.handle(inbound('read https://example.com/ please', { mentionsBot: true }), { sink: () => sink });
    expect(t.anthropic.messageRequests().map((r) => r.status)).toEqual([400, 200]);
    expect(t.anthropic.messageRequests()[1]?.body).not.toHaveProperty('tools');
    expect(sink.finished[0]?.note).toMatch(/not available with this model or API endpoint/);
    expect(t.logLines.some((line) => line.includes('refused the web tools'))).toBe(true);

    await t.core.handle(inbound('and now?'), { sink: recordingSink });
    expect(t.anthropic.messageRequests().map((r) => r.status)).toEqual([400, 200, 200]);
    expect(t.anthropic.messageRequests()[2]?.body).not.toHaveProperty('tools');
  });

  it('follows /settings: web_search on in a channel adds the search tool there, web_fetch off removes fetch, from the next reply on', async () => {
    const t = await harness({});
    const admin = { id: 'admin', name: 'Admin', isAdmin: true };
    const settings = (key: string, value: string) =>
      t.core.runSettingsCommand({ platform: 'discord', workspaceId: 'guild-1', channelId: 'chan-1', actor: admin, action: 'set', scope: 'channel', key, value });
    await t.core.handle(inbound('first', { mentionsBot: true }), { sink: recordingSink });
    expect(bodies(t)[0]?.tools).toEqual([{ type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 5, citations: { enabled: true } }]);
    expect((await settings('web_search', 'on')).ok).toBe(true);
    await t.core.handle(inbound('second'), { sink: recordingSink });
    expect(bodies(t)[1]?.tools?.map((tool) => (tool as { name: string }).name)).toEqual(['web_search', 'web_fetch']);
    await settings('web_search', 'off');
    await settings('web_fetch', 'off');
    await t.core.handle(inbound('third'), { sink: recordingSink });
    expect(bodies(t)[2]).not.toHaveProperty('tools');
    expect(t.anthropic.messageRequests().every((r) => r.status === 200)).toBe(true);
  });

  it('records the searches of a turn whose continuation failed, and says what went wrong', async () => {
    const t = await harness({ webTools: { search: true }, maxRetries: 0 });
    t.anthropic.enqueue({ toolCalls: [{ search: 'one' }, { search: 'two' }], pauses: 1, continuationStatus: 529, text: 'never' });
    const sink = recordingSink();
    const outcome = await t.core.handle(inbound('search it', { mentionsBot: true }), { sink: () => sink });
    expect(outcome).toMatchObject({ kind: 'failed', code: 'model_overloaded' });
    expect(t.anthropic.messageRequests().map((r) => r.status)).toEqual([200, 529]);
    expect(sink.failed[0]?.message).toMatch(/overloaded/);
    expect(await t.store.usage.searchesSince('discord', 'guild-1', 0)).toBe(1);
  });
});
