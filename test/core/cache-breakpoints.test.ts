import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContentBlock, RequestMessage } from '../../src/core/request/types.js';
import { CACHE_STRIDE_BLOCKS, stridePositions, withStrideBreakpoints } from '../../src/core/cache-breakpoints.js';
import { validateRequest } from '../fakes/anthropic-rules.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

/** The API looks back this many blocks from a breakpoint, the breakpoint's own included (§10). */
const LOOKBACK_BLOCKS = 20;

const text = (t: string): ContentBlock => ({ type: 'text', text: t });
const marked = (messages: readonly RequestMessage[]) =>
  messages.flatMap((message) => message.content).flatMap((block, index) => ('cache_control' in block && block.cache_control !== undefined ? [index] : []));

describe('stride breakpoints', () => {
  it.each<[number, number[]]>([
    [0, []],
    [1, []],
    [17, []],
    // Block 16 is the last one: the automatic breakpoint covers it.
    [CACHE_STRIDE_BLOCKS + 1, []],
    [CACHE_STRIDE_BLOCKS + 2, [16]],
    [33, [16]],
    [34, [32, 16]],
    [100, [96, 80]],
  ])('%i blocks get breakpoints at %j', (total, expected) => {
    expect(stridePositions(total)).toEqual(expected);
  });

  it('marks copies, never what it was given, and leaves unmarked messages as they were', () => {
    const messages: RequestMessage[] = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: [text(`m${i}`)] }));
    const snapshot = JSON.stringify(messages);
    const result = withStrideBreakpoints(messages);
    expect(JSON.stringify(messages)).toBe(snapshot);
    expect(marked(result)).toEqual([16, 32]);
    expect(result.filter((message, i) => message !== messages[i]).length).toBe(2);
    // Blocks inside one long merged message are found too.
    const merged: RequestMessage[] = [{ role: 'user', content: Array.from({ length: 50 }, (_, i) => text(`chatter ${i}`)) }];
    expect(marked(withStrideBreakpoints(merged))).toEqual([32, 48]);
  });

  // The property the positions exist for: the last block of the previous request (where it wrote
  // its cache entry) lies within the lookback of one of the next request's breakpoints.
  it('lets the next request find the previous one after any growth of up to 36 blocks', () => {
    const misses = (explicit: (totalBlocks: number) => number[]) => {
      const found: string[] = [];
      for (let previous = 1; previous <= 300; previous += 1) {
        for (let grown = 1; grown <= 36; grown += 1) {
          const total = previous + grown;
          const previousEnd = previous - 1;
          const points = [total - 1, ...explicit(total)];
          if (!points.some((point) => previousEnd <= point && previousEnd > point - LOOKBACK_BLOCKS)) found.push(`${previous}+${grown}`);
        }
      }
      return found;
    };
    expect(misses(stridePositions)).toEqual([]);
    // With the automatic breakpoint alone, a growth of 20 blocks already loses the cache.
    expect(misses(() => [])).toContain('100+20');
  });
});

describe('prompt cache through the core, the SDK and the fake Messages API', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createCoreHarness({ followUpWithoutMention: false, anthropic: { minCacheableTokens: 1024 } });
  });
  afterEach(async () => {
    await h.close();
  });

  const usageOf = (i: number) => h.anthropic.messageRequests()[i]?.usage;
  const inputOf = (i: number) => {
    const usage = usageOf(i);
    return usage === undefined ? 0 : usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
  };

  it('reads the whole previous request from the cache even when 30 messages came between two mentions', async () => {
    const people = [
      { id: 'u-alice', name: 'Alice' },
      { id: 'u-bob', name: 'Bob' },
    ];
    await h.core.handle(inbound(`what happened so far? ${'context about the incident '.repeat(200)}`, { mentionsBot: true }), { sink: recordingSink });
    // A second person: from here on every turn carries its author's name (the prefix changes once).
    await h.core.handle(inbound('anything to add?', { mentionsBot: true, author: people[1] }), { sink: recordingSink });
    await h.core.ingest(Array.from({ length: 30 }, (_, i) => inbound(`later message ${i}: ${'more discussion of the fix '.repeat(12)}`, { author: people[i % 2] })));
    await h.core.handle(inbound('and now?', { mentionsBot: true }), { sink: recordingSink });

    const requests = h.anthropic.messageRequests();
    expect(requests).toHaveLength(3);
    for (const request of requests) expect(validateRequest(request.body as never)).toBeUndefined();
    // The second request wrote its whole prefix; the third, 30 messages later, read all of it back.
    expect(usageOf(1)?.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(usageOf(2)?.cache_read_input_tokens).toBeGreaterThanOrEqual(inputOf(1) - 10);
  });

  it('records the cache figures of every reply in the usage table', async () => {
    for (const question of ['first question', 'second question', 'third question']) {
      h.anthropic.enqueue({ text: `${question}: ${'a long and careful answer. '.repeat(80)}` });
      await h.core.handle(inbound(`${question} ${'with some detail '.repeat(300)}`, { mentionsBot: true }), { sink: recordingSink });
    }
    const sent = h.anthropic.messageRequests().map((request) => request.usage);
    const sum = (pick: (usage: NonNullable<(typeof sent)[number]>) => number) => sent.reduce((total, usage) => total + (usage === undefined ? 0 : pick(usage)), 0);
    const [row] = await h.store.usage.report(THREAD.platform, THREAD.workspaceId, 0, 'channel');
    expect(row).toMatchObject({
      replies: 3,
      inputTokens: sum((usage) => usage.input_tokens),
      cacheReadTokens: sum((usage) => usage.cache_read_input_tokens),
      cacheCreationTokens: sum((usage) => usage.cache_creation_input_tokens),
    });
    expect(row?.cacheReadTokens).toBeGreaterThan(0);
    expect(row?.cacheCreationTokens).toBeGreaterThan(0);
  });
});
