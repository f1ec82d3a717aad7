import { afterEach, describe, expect, it } from 'vitest';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';

describe('Slack streaming', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  async function ask(world: SlackWorld, text: string) {
    const message = world.slack.seed(CHANNEL, ALICE, `<@${world.slack.botUserId}> ${text}`);
    await world.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: world.slack.team });
    return message;
  }

  it('streams natively with the recipient ids, then leaves exactly the answer', async () => {
    w = await startSlackWorld('http');
    const answer = `# Plan\n\n${'Step by step, **carefully**. '.repeat(80)}`;
    w.h.anthropic.enqueue({ text: answer, chunkSize: 60, chunkDelayMs: 15 });
    const message = await ask(w, 'plan it');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const start = w.slack.calls.entries.find((c) => c.method === 'chat.startStream');
    expect(start?.args).toMatchObject({ channel: CHANNEL, thread_ts: message.ts, recipient_team_id: w.slack.team, recipient_user_id: ALICE });
    expect(w.slack.calls.entries.filter((c) => c.method === 'chat.appendStream').length).toBeGreaterThan(0);
    expect(w.slack.calls.entries.some((c) => c.method === 'chat.stopStream')).toBe(true);
    const replies = w.slack.botMessages(CHANNEL, message.ts);
    expect(replies.map((m) => m.text)).toEqual([answer.trimEnd()]);
    expect(w.slack.calls.entries.some((c) => c.response?.ok === false && c.method !== 'assistant.threads.setStatus')).toBe(false);
  });

  it('falls back to posting and updating at most once per spacing when streaming is unavailable', async () => {
    w = await startSlackWorld('socket', { spacingMs: 300, fake: { failing: { 'chat.startStream': 'unknown_method', 'assistant.threads.setStatus': 'not_allowed' } } });
    const answer = 'Fallback answer with <!channel> in it. '.repeat(40);
    w.h.anthropic.enqueue({ text: answer, chunkSize: 50, chunkDelayMs: 15 });
    const message = await ask(w, 'fallback please');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const methods = w.slack.calls.entries.map((c) => c.method);
    expect(methods).toContain('chat.postMessage');
    expect(methods).toContain('chat.update');
    expect(methods).toContain('reactions.add');
    expect(methods).toContain('reactions.remove');
    const [reply] = w.slack.botMessages(CHANNEL, message.ts);
    expect(reply?.text).not.toContain('<!channel>');
    expect(reply?.text).toContain('@\u200Bchannel');
    const updates = w.slack.calls.entries.filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update');
    expect(updates.length).toBeGreaterThan(1);
    for (let i = 1; i < updates.length; i += 1) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(250);
  });

  it.each([
    ['native streaming', {}],
    ['the post-and-update fallback', { 'chat.startStream': 'unknown_method' }],
  ] as const)('runs ten replies of every length in one thread through %s without ratelimited or msg_too_long', { timeout: 120_000 }, async (_name, failing) => {
    w = await startSlackWorld('http', { spacingMs: 1000, fake: { enforceRateLimits: true, failing } });
    const world = w;
    const answers = [200, 2600, 600, 14_000, 90, 3100, 900, 5200, 300, 1700].map((size, i) => `Answer ${i}. ${'Some more **explanation** follows here. '.repeat(Math.ceil(size / 40))}`.trim());
    world.h.anthropic.enqueue(...answers.map((text) => ({ text, chunkSize: 400, chunkDelayMs: 10 })));
    const parent = await ask(world, 'question 0');
    await world.h.anthropic.waitForRequests(1);
    await world.adapter.idle();
    for (let i = 1; i < answers.length; i += 1) {
      await world.replyInThread(parent.ts, ALICE, `question ${i}`);
      await world.h.anthropic.waitForRequests(i + 1);
      await world.adapter.idle();
    }
    const refused = world.slack.calls.entries.filter((c) => c.response?.error === 'ratelimited' || c.response?.error === 'msg_too_long');
    expect(refused.map((c) => `${c.method}: ${String(c.response?.error)}`)).toEqual([]);
    const shown = world.slack.botMessages(CHANNEL, parent.ts).map((m) => m.text);
    expect(shown.join(' ').replace(/\s+/g, ' ').trim()).toBe(answers.join(' ').replace(/\s+/g, ' ').trim());
  });

  it('splits a reply longer than the markdown block limit over several messages', async () => {
    w = await startSlackWorld('http', { fake: { failing: { 'chat.startStream': 'unknown_method' } } });
    const answer = 'A long paragraph that keeps going. '.repeat(700);
    w.h.anthropic.enqueue({ text: answer, chunkSize: 2000 });
    const message = await ask(w, 'long');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const replies = w.slack.botMessages(CHANNEL, message.ts).map((m) => m.text);
    expect(replies.length).toBeGreaterThanOrEqual(3);
    for (const reply of replies) expect(reply.length).toBeLessThanOrEqual(12_000);
    expect(replies.join(' ').replace(/\s+/g, ' ').trim()).toBe(answer.trim());
  });

  it('stops the model call when the user stops the stream', async () => {
    w = await startSlackWorld('http');
    w.h.anthropic.enqueue({ text: 'Going on and on. '.repeat(400), chunkSize: 20, chunkDelayMs: 10 });
    const message = await ask(w, 'talk a lot');
    await w.slack.calls.waitFor((c) => c.method === 'chat.startStream', 'stream start');
    w.slack.failing['chat.appendStream'] = 'stopped_by_user';
    await w.h.core.idle();
    expect(w.h.logLines.some((line) => line.includes('answer stopped by the user'))).toBe(true);
    // No error message replaced the partial answer: it stays, marked as stopped, and is what the history keeps.
    expect(w.slack.botMessages(CHANNEL, message.ts)).toHaveLength(1);
    const shown = w.slack.botMessages(CHANNEL, message.ts)[0]?.text ?? '';
    expect(shown).not.toMatch(/warning/);
    expect(shown).toMatch(/^Going on and on\..*_Stopped\._$/s);
    const conversation = await w.h.store.conversations.find({ platform: 'slack', workspaceId: w.slack.team, channelId: CHANNEL, threadKey: `${CHANNEL}:${message.ts}` });
    const stored = (await w.h.store.messages.thread(conversation!.id)).filter((m) => m.role === 'assistant');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.text).toMatch(/^Going on and on\./);
    expect(stored[0]!.text).not.toContain('Stopped');
  });

  it('explains a model failure in the thread', async () => {
    w = await startSlackWorld('http', { maxRetries: 0 });
    w.h.anthropic.enqueue({ status: 429, errorType: 'rate_limit_error', errorMessage: 'Rate limited' });
    const message = await ask(w, 'hello');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.slack.botMessages(CHANNEL, message.ts).map((m) => m.text)).toEqual([expect.stringMatching(/:warning: This bot has hit its Claude rate limit/)]);
  });
});
