import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { validateRequest } from '../fakes/anthropic-rules.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }>; system: Array<{ text: string }> };
const bodyOf = (h: Harness, i: number) => h.anthropic.messageRequests()[i]?.body as unknown as Body;
const texts = (body: Body) => body.messages.flatMap((m) => m.content.filter((b) => b.type === 'text').map((b) => `${m.role}:${b.text}`));

describe('ChatService through the real SDK and the fake Messages API', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createCoreHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('answers a mention with the thread history and stores the answer', async () => {
    const first = recordingSink();
    const outcome = await h.core.handle(inbound('hello bot', { mentionsBot: true }), { sink: () => first });
    expect(outcome.kind).toBe('answered');
    expect(first.started).toBe(1);
    expect(first.finished).toEqual([{ text: 'echo: hello bot' }]);
    expect(first.progressTexts.at(-1)).toBe('echo: hello bot');

    // A follow-up without a mention in a thread the bot answered is answered too.
    const second = recordingSink();
    await h.core.handle(inbound('and again'), { sink: () => second });
    expect(second.finished).toHaveLength(1);
    const body = bodyOf(h, 1);
    expect(texts(body)).toEqual(['user:hello bot', 'assistant:echo: hello bot', 'user:and again']);
    expect(body).not.toHaveProperty('temperature');
    expect(h.anthropic.requests[1]?.headers['anthropic-version']).toBe('2026-10-21');
  });

  it('ignores threads it takes no part in, and records every message in threads it does', async () => {
    expect((await h.core.handle(inbound('just chatting'), { sink: recordingSink })).kind).toBe('ignored');
    await h.core.handle(inbound('hey', { mentionsBot: true }), { sink: recordingSink });
    const noFollowUp = await createCoreHarness({ followUpWithoutMention: false });
    try {
      await noFollowUp.core.handle(inbound('q', { mentionsBot: true }), { sink: recordingSink });
      const outcome = await noFollowUp.core.handle(inbound('side remark'), { sink: recordingSink });
      expect(outcome.kind).toBe('recorded');
      expect(noFollowUp.anthropic.messageRequests()).toHaveLength(1);
    } finally {
      await noFollowUp.close();
    }
  });

  it('sends each reply the previous request byte for byte as its prefix, but where the thread itself changed', async () => {
    const steps: Array<() => void | Promise<unknown>> = [
      () => h.core.handle(inbound('first question', { mentionsBot: true }), { sink: recordingSink }),
      () => h.core.handle(inbound('second question'), { sink: recordingSink }),
      async () => await h.core.ingest([inbound('bob joins', { author: { id: 'u-bob', name: 'Bob' } })]), // names from now on: the prefix changes once
      () => h.core.handle(inbound('third question'), { sink: recordingSink }),
      () => h.core.handle(inbound('fourth question'), { sink: recordingSink }),
      // An empty mention is sent as an implied request; afterwards it is an empty turn, left out: the prefix changes once.
      () => h.core.handle(inbound('', { mentionsBot: true }), { sink: recordingSink }),
      () => h.core.handle(inbound('fifth question'), { sink: recordingSink }),
      () => h.core.handle(inbound('sixth question'), { sink: recordingSink }),
    ];
    for (const step of steps) await step();
    const requests = h.anthropic.messageRequests().map((request) => (request.body as unknown as Body).messages);
    expect(requests).toHaveLength(7);
    // Cache markers are not part of the cached prefix (§10): compare without them.
    const bytes = (message: unknown) => JSON.stringify(message, (key, value: unknown) => (key === 'cache_control' ? undefined : value));
    const extends_ = (before: Body['messages'], after: Body['messages']) => before.slice(0, -1).every((message, i) => bytes(message) === bytes(after[i]));
    expect(requests.slice(1).map((after, i) => extends_(requests[i] as Body['messages'], after))).toEqual([true, false, true, true, false, true]);
    for (const request of h.anthropic.messageRequests()) expect(validateRequest(request.body as never)).toBeUndefined();
  });

  it('prefixes names when several people speak and merges consecutive turns', async () => {
    await h.core.handle(inbound('first', { mentionsBot: true }), { sink: recordingSink });
    await h.core.ingest([inbound('bob here', { author: { id: 'u-bob', name: 'Bob' } })]);
    await h.core.handle(inbound('what did bob say?', { mentionsBot: true }), { sink: recordingSink });
    const body = bodyOf(h, 1);
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(texts(body)).toEqual(['user:Alice: first', 'assistant:echo: first', 'user:Bob: bob here', 'user:Alice: what did bob say?']);
  });

  it('backfills a new thread once, without duplicating the current message', async () => {
    let reads = 0;
    const history = [inbound('one'), inbound('two', { author: { id: 'u-bob', name: 'Bob' } })];
    const mention = inbound('summarize', { mentionsBot: true });
    history.push(mention);
    await h.core.handle(mention, { sink: recordingSink, fetchHistory: async () => (reads++, history) });
    await h.core.handle(inbound('more', { mentionsBot: true }), { sink: recordingSink, fetchHistory: async () => (reads++, []) });
    expect(reads).toBe(1);
    expect(texts(bodyOf(h, 0))).toEqual(['user:Alice: one', 'user:Bob: two', 'user:Alice: summarize']);
  });

  it('answers each delivery once: same message id or same dedupe key', async () => {
    const mention = inbound('once please', { mentionsBot: true, dedupeKeys: ['slack-event:Ev1'] });
    const outcomes = await Promise.all([
      h.core.handle(mention, { sink: recordingSink }),
      h.core.handle(mention, { sink: recordingSink }),
      h.core.handle({ ...mention, messageId: 'other' }, { sink: recordingSink }),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['answered', 'ignored', 'ignored']);
    expect(h.anthropic.messageRequests()).toHaveLength(1);
  });

  it('keeps per-thread order: the second mention sees the first answer', async () => {
    const a = h.core.handle(inbound('A?', { mentionsBot: true }), { sink: recordingSink });
    const b = h.core.handle(inbound('B?', { mentionsBot: true }), { sink: recordingSink });
    await Promise.all([a, b]);
    expect(texts(bodyOf(h, 1))).toEqual(['user:A?', 'assistant:echo: A?', 'user:B?']);
  });

  it('answers a follow-up written while the first answer is still on its way, after it', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = { ...recordingSink(), start: () => held };
    const answering = h.core.handle(inbound('first question', { mentionsBot: true }), { sink: () => first });
    // No answer is stored yet: the bot is still working on the mention when the follow-up comes.
    const followUp = h.core.handle(inbound('and one more thing'), { sink: recordingSink });
    release();
    const outcomes = await Promise.all([answering, followUp]);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['answered', 'answered']);
    expect(texts(bodyOf(h, 1))).toEqual(['user:first question', 'assistant:echo: first question', 'user:and one more thing']);
  });

  it('does not answer a mention deleted before its turn came', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const blocking = { ...recordingSink(), start: () => held };
    const slow = h.core.handle(inbound('first', { mentionsBot: true }), { sink: () => blocking });
    const doomed = inbound('delete me', { mentionsBot: true });
    const pending = h.core.handle(doomed, { sink: recordingSink });
    // The second job waits behind the first in the per-thread queue; delete it once it is stored.
    const conversation = () => h.store.conversations.find(doomed.thread);
    await vi.waitFor(async () => expect(await h.store.messages.find((await conversation())?.id ?? -1, doomed.messageId)).toBeDefined());
    h.core.recordDelete(doomed.thread, doomed.messageId);
    release();
    await slow;
    expect(await pending).toEqual({ kind: 'ignored', reason: 'deleted' });
    expect(h.anthropic.messageRequests()).toHaveLength(1);
  });

  it('follows edits and deletes in later requests', async () => {
    const original = inbound('typo', { mentionsBot: true });
    await h.core.handle(original, { sink: recordingSink });
    const chatter = inbound('remove me');
    await h.core.handle(chatter, { sink: recordingSink });
    h.core.recordEdit(original.thread, original.messageId, 'fixed');
    h.core.recordDelete(chatter.thread, chatter.messageId);
    await h.core.handle(inbound('now?', { mentionsBot: true }), { sink: recordingSink });
    const all = texts(bodyOf(h, 2)).join('|');
    expect(all).toContain('user:fixed');
    expect(all).not.toContain('remove me');
    expect(all).not.toContain('user:typo');
  });

  it('turns a refusal into a polite message and stores nothing as the answer', async () => {
    h.anthropic.enqueue({ text: 'Here is how to', stopReason: 'refusal', stopDetails: { category: 'cyber', explanation: null } });
    const sink = recordingSink();
    const outcome = await h.core.handle(inbound('bad idea', { mentionsBot: true }), { sink: () => sink });
    expect(outcome.kind).toBe('failed');
    expect(sink.finished).toEqual([]);
    expect(sink.failed[0]?.code).toBe('model_refused');
    expect(sink.failed[0]?.message).toMatch(/can't help.*cybersecurity/);
    await h.core.handle(inbound('something else', { mentionsBot: true }), { sink: recordingSink });
    expect(texts(bodyOf(h, 1)).join('|')).not.toContain('Here is how to');
  });

  it('adds a note when the answer hit max_tokens', async () => {
    h.anthropic.enqueue({ text: 'partial answer', stopReason: 'max_tokens' });
    const sink = recordingSink();
    await h.core.handle(inbound('long one', { mentionsBot: true }), { sink: () => sink });
    expect(sink.finished[0]?.text).toBe('partial answer');
    expect(sink.finished[0]?.note).toMatch(/cut off/);
  });

  it('retries a 529 and then succeeds', async () => {
    h.anthropic.enqueue({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded' });
    const sink = recordingSink();
    const outcome = await h.core.handle(inbound('busy?', { mentionsBot: true }), { sink: () => sink });
    expect(outcome.kind).toBe('answered');
    expect(h.anthropic.messageRequests().map((r) => r.status)).toEqual([529, 200]);
  });

  it('explains an overload that outlasts the retries, with the request id in the log', async () => {
    for (let i = 0; i < 3; i += 1) h.anthropic.enqueue({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded' });
    const sink = recordingSink();
    await h.core.handle(inbound('busy?', { mentionsBot: true }), { sink: () => sink });
    expect(sink.failed[0]?.code).toBe('model_overloaded');
    expect(sink.failed[0]?.message).toMatch(/overloaded/i);
    expect(h.logLines.join('\n')).toMatch(/req_011CFake/);
  });

  it('maps a 401 to a clear message without leaking the key', async () => {
    h.anthropic.enqueue({ status: 401, errorType: 'authentication_error', errorMessage: 'invalid x-api-key' });
    const sink = recordingSink();
    await h.core.handle(inbound('hi', { mentionsBot: true }), { sink: () => sink });
    expect(sink.failed[0]?.code).toBe('model_auth');
    expect(sink.failed[0]?.message).toMatch(/credentials were rejected/);
    expect(h.anthropic.messageRequests()).toHaveLength(1);
    expect(h.logLines.join('\n')).not.toContain('sk-ant-test');
  });

  it('tells the user when the stream fails midway, and keeps no partial text', async () => {
    h.anthropic.enqueue({ text: 'x'.repeat(400), midStreamError: { afterChars: 80, type: 'overloaded_error', message: 'Overloaded' } });
    const sink = recordingSink();
    await h.core.handle(inbound('stream', { mentionsBot: true }), { sink: () => sink });
    expect(sink.progressTexts.length).toBeGreaterThan(0);
    expect(sink.finished).toEqual([]);
    expect(sink.failed[0]?.code).toBe('model_overloaded');
  });

  it('gives up on a stalled stream and says so', async () => {
    const quick = await createCoreHarness({ idleTimeoutMs: 1000, maxRetries: 0 });
    try {
      quick.anthropic.enqueue({ text: 'y'.repeat(200), stallAfterChars: 40 });
      const sink = recordingSink();
      const outcome = await quick.core.handle(inbound('stall', { mentionsBot: true }), { sink: () => sink });
      expect(outcome, JSON.stringify(quick.logLines)).toMatchObject({ kind: 'failed', code: 'model_stalled' });
      expect(sink.failed[0]?.code).toBe('model_stalled');
      expect(sink.failed[0]?.message).toMatch(/too long/);
    } finally {
      await quick.close();
    }
  });

  it('records usage per reply', async () => {
    await h.core.handle(inbound('count me', { mentionsBot: true }), { sink: recordingSink });
    const body = bodyOf(h, 0) as unknown as Record<string, unknown>;
    expect(validateRequest(body)).toBeUndefined();
    const usage = h.anthropic.messageRequests()[0]?.usage;
    expect(usage?.output_tokens).toBeGreaterThan(0);
  });
});
