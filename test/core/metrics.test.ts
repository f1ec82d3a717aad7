/**
 * The series operators scrape at /metrics, fed by the real core and model client against the
 * fake Messages API, read back in Prometheus text format and parsed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/core/metrics.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';

describe('metrics', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const scrape = async (metrics: Metrics) => parsePrometheus(await metrics.registry.metrics());

  it('counts replies by outcome, tokens by kind and both latencies, with no text, names or ids in labels', async () => {
    const metrics = new Metrics();
    h = await createCoreHarness({ metrics, maxRetries: 0 });
    await h.core.handle(inbound('secret question one', { mentionsBot: true, author: { id: 'u-4242', name: 'Zebulon' } }), { sink: recordingSink });
    await h.core.handle(inbound('secret question two', { author: { id: 'u-4242', name: 'Zebulon' } }), { sink: recordingSink });
    h.anthropic.enqueue({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded' });
    await h.core.handle(inbound('secret question three', { author: { id: 'u-4242', name: 'Zebulon' } }), { sink: recordingSink });

    const samples = await scrape(metrics);
    expect(sampleValue(samples, 'threadline_replies_total', { platform: 'discord', outcome: 'answered' })).toBe(2);
    expect(sampleValue(samples, 'threadline_replies_total', { platform: 'discord', outcome: 'failed' })).toBe(1);
    expect(sampleValue(samples, 'threadline_errors_total', { source: 'model', code: 'model_overloaded' })).toBe(1);
    const tokens = (kind: string) => sampleValue(samples, 'threadline_model_tokens_total', { kind }) as number;
    // The fake's usage, summed over the two answered requests, kind by kind.
    const usage = h.anthropic.messageRequests().flatMap((request) => (request.usage === undefined ? [] : [request.usage]));
    const sum = (pick: (u: (typeof usage)[number]) => number) => usage.reduce((total, u) => total + pick(u), 0);
    expect(usage).toHaveLength(2);
    expect(tokens('input')).toBe(sum((u) => u.input_tokens));
    expect(tokens('output')).toBe(sum((u) => u.output_tokens));
    expect(tokens('cache_read')).toBe(sum((u) => u.cache_read_input_tokens));
    expect(tokens('cache_write')).toBe(sum((u) => u.cache_creation_input_tokens));
    expect(tokens('output')).toBeGreaterThan(0);
    expect(tokens('cache_read') + tokens('cache_write') + tokens('input')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'threadline_model_first_token_seconds_count', {})).toBe(2);
    expect(sampleValue(samples, 'threadline_first_visible_seconds_count', {})).toBe(2);
    expect(sampleValue(samples, 'threadline_replies_in_flight', {})).toBe(0);
    expect(sampleValue(samples, 'threadline_replies_queued', {})).toBe(0);

    const labelValues = samples.flatMap((sample) => Object.values(sample.labels));
    for (const leak of ['secret', 'Zebulon', 'u-4242', 'thread-1', 'chan-1', 'guild-1']) {
      expect(labelValues.filter((value) => value.includes(leak))).toEqual([]);
    }
  });

  it('shows a streaming reply in flight and the next one in the same thread queued behind it', async () => {
    const metrics = new Metrics();
    h = await createCoreHarness({ metrics });
    h.anthropic.enqueue({ text: 'a slow answer that takes its time to arrive', chunkSize: 4, chunkDelayMs: 40 });
    const first = recordingSink();
    const answering = h.core.handle(inbound('first', { mentionsBot: true }), { sink: () => first });
    await expect.poll(() => first.progressTexts.length).toBeGreaterThan(0);
    const second = h.core.handle(inbound('second', { mentionsBot: true }), { sink: recordingSink });
    await expect.poll(async () => sampleValue(await scrape(metrics), 'threadline_replies_queued', {})).toBe(1);
    expect(sampleValue(await scrape(metrics), 'threadline_replies_in_flight', {})).toBe(1);
    await Promise.all([answering, second]);
    const samples = await scrape(metrics);
    expect(sampleValue(samples, 'threadline_replies_in_flight', {})).toBe(0);
    expect(sampleValue(samples, 'threadline_replies_queued', {})).toBe(0);
  });

  it('records the waits the API asks for (retry-after on a 429)', async () => {
    const metrics = new Metrics();
    h = await createCoreHarness({ metrics, maxRetries: 1 });
    h.anthropic.enqueue({ status: 429, errorType: 'rate_limit_error', errorMessage: 'slow down', headers: { 'retry-after': '0' } });
    await h.core.handle(inbound('hello', { mentionsBot: true }), { sink: recordingSink });
    const samples = await scrape(metrics);
    expect(sampleValue(samples, 'threadline_rate_limit_wait_seconds_count', {})).toBe(1);
    expect(sampleValue(samples, 'threadline_replies_total', { platform: 'discord', outcome: 'answered' })).toBe(1);
  });

  it('leaves nothing queued after a restart apologizes for a mention too old to answer', async () => {
    const metrics = new Metrics();
    h = await createCoreHarness({ metrics });
    h.core.registerPlatform('discord', { urlsArePublic: true, replySink: () => recordingSink() });
    // A mention a previous run left, hours old: taken up at start, it gets an apology, not an answer.
    const old = inbound('ancient', { mentionsBot: true });
    const conversation = await h.store.conversations.findOrCreate(old.thread, old.createdAt);
    const messageId = (await h.store.messages.insert({ conversationId: conversation.id, platformMessageId: old.messageId, authorId: 'u-alice', authorName: 'Alice', authorKind: 'user', role: 'user', text: old.text, createdAt: old.createdAt })) as number;
    await h.store.jobs.create(messageId, conversation.id, Date.now() - 3 * 3600_000);
    await h.core.resumePending('discord');
    await h.core.idle();
    expect(await h.store.jobs.open()).toEqual([]);
    expect(h.anthropic.messageRequests()).toHaveLength(0);
    expect(sampleValue(await scrape(metrics), 'threadline_replies_queued', {})).toBe(0);
  });
});
