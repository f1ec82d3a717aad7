import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

describe('Discord streaming', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('streams a 9000-character answer with two code blocks into messages that end exactly as the answer, ≥1 s between changes', { timeout: 60_000 }, async () => {
    w = await startDiscordWorld({ spacingMs: 1000 });
    const block = (lang: string, n: number) => `\`\`\`${lang}\n${Array.from({ length: n }, (_, i) => `line_${i} = value(${i})  # explain ${i}`).join('\n')}\n\`\`\``;
    const answer = [
      'Here is the plan.',
      'First some prose. '.repeat(60),
      block('python', 60),
      'Between the blocks, more explanation. '.repeat(40),
      block('ts', 70),
      'Finally, the summary. '.repeat(100),
    ].join('\n\n');
    expect(answer.length).toBeGreaterThan(9000);
    w.h.anthropic.enqueue({ text: answer, chunkSize: 120, chunkDelayMs: 25 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('give me the long version'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();

    const changes = w.discord.rest.entries.filter((r) => (r.method === 'POST' || r.method === 'PATCH' || r.method === 'DELETE') && r.path.startsWith(`/channels/${mention.id}/messages`));
    expect(changes.some((r) => r.method === 'PATCH')).toBe(true); // it streamed, not one post at the end
    for (let i = 1; i < changes.length; i += 1) expect(changes[i]!.at - changes[i - 1]!.at).toBeGreaterThanOrEqual(990);
    expect(w.discord.rest.entries.some((r) => r.status === 429)).toBe(false);

    const parts = w.discord.botMessages(mention.id).map((m) => m.content);
    for (const part of parts) {
      expect([...part].length).toBeLessThanOrEqual(2000);
      expect((part.match(/```/g) ?? []).length % 2).toBe(0);
      expect(part).not.toContain('▌');
    }
    const strip = (text: string) => text.replace(/```(python|ts)?\n?/g, '').replace(/\s+/g, '');
    expect(strip(parts.join('\n'))).toBe(strip(answer));
  });

  it('runs ten streamed replies of every length in one thread without a single 429, within Discord limits', { timeout: 120_000 }, async () => {
    w = await startDiscordWorld({ spacingMs: 1000, fake: { enforceRateLimits: true } });
    const world = w;
    const code = (n: number) => `\`\`\`js\n${Array.from({ length: n }, (_, i) => `const value${i} = compute(${i});`).join('\n')}\n\`\`\``;
    const answers = [200, 2600, 600, 4200, 90, 3100, 900, 5200, 300, 1700].map(
      (size, i) => `Answer ${i}. ${i % 3 === 1 ? `${code(30)}\n\n` : ''}${'Some more explanation follows here. '.repeat(Math.ceil(size / 36))}`.trim(),
    );
    const mention = world.discord.post(world.general.id, world.alice, world.discord.mention('question 0'));
    world.h.anthropic.enqueue(...answers.map((text) => ({ text, chunkSize: 150, chunkDelayMs: 10 })));
    await world.h.anthropic.waitForRequests(1);
    await world.h.core.idle();
    for (let i = 1; i < answers.length; i += 1) {
      // Follow-ups in the thread, each as soon as the previous answer is done.
      world.discord.post(mention.id, world.alice, `question ${i}`);
      await world.h.anthropic.waitForRequests(i + 1);
      await world.h.core.idle();
    }
    expect(world.discord.rest.entries.filter((r) => r.status === 429).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    const shown = world.discord.botMessages(mention.id).map((m) => m.content);
    for (const part of shown) expect([...part].length).toBeLessThanOrEqual(2000);
    const strip = (text: string) => text.replace(/```(js)?\n?/g, '').replace(/\s+/g, '');
    expect(strip(shown.join(''))).toBe(strip(answers.join('')));
  });

  it('shows the first text before the model has finished', async () => {
    w = await startDiscordWorld({ spacingMs: 200 });
    w.h.anthropic.enqueue({ text: `First sentence. ${'and more words '.repeat(80)}`, chunkSize: 20, chunkDelayMs: 20 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('go'));
    const firstPost = await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'first text');
    expect((firstPost.body as { content: string }).content).toMatch(/^First sentence\..*▌$/s);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content).join('')).not.toContain('▌');
  });

  it.each([
    ['a mid-stream overload', { midStreamError: { afterChars: 300, type: 'overloaded_error', message: 'Overloaded' } }, /overloaded right now/],
    ['a refusal after partial text', { stopReason: 'refusal' as const, stopDetails: { category: 'cyber', explanation: null } }, /can't help with that request because it touches on cybersecurity/],
  ])('replaces partial text after %s with a clear message and stores nothing', async (_name, script, expected) => {
    w = await startDiscordWorld({ spacingMs: 50, maxRetries: 0 });
    w.h.anthropic.enqueue({ text: 'Partial answer. '.repeat(60), chunkSize: 40, chunkDelayMs: 10, ...script });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('risky'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const shown = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(shown).toEqual([expect.stringMatching(expected)]);
    w.discord.post(mention.id, w.alice, 'next');
    await w.h.anthropic.waitForRequests(2);
    expect(JSON.stringify(w.h.anthropic.messageRequests()[1]?.body)).not.toContain('Partial answer.');
  });

  it('gives up on a stalled stream and tells the user', async () => {
    w = await startDiscordWorld({ idleTimeoutMs: 1000, maxRetries: 0 });
    w.h.anthropic.enqueue({ text: 'Starting. '.repeat(30), chunkSize: 20, stallAfterChars: 60 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('slow one'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual([expect.stringMatching(/took too long to answer/)]);
  });
});
