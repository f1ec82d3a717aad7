/**
 * A burst through the real SDK and the real discord.js against the doubles' rate limits: the
 * account takes 10 requests at once, Discord 50 requests a second. Every mention is answered
 * exactly once, and the limits are met by waiting, not by running into them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AdaptiveConcurrency } from '../../src/core/concurrency/adaptive-concurrency.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

const MENTIONS = 100;

/** Waits until the bot has posted in every one of `threads` (an answer's first write). */
async function answerInEveryThread(w: DiscordWorld, threads: readonly string[], options: { since?: number; timeoutMs: number }): Promise<void> {
  const answered = new Set<string>();
  await w.discord.rest.waitFor(
    (r) => {
      const thread = /^\/channels\/(\d+)\/messages$/.exec(r.path)?.[1];
      if (r.method === 'POST' && r.status === 200 && thread !== undefined && threads.includes(thread)) answered.add(thread);
      return answered.size === threads.length;
    },
    'an answer in every thread',
    options,
  );
}

describe('100 mentions at once under the account and platform limits', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('answers every one exactly once, with few 429s from either side', { timeout: 120_000 }, async () => {
    const gate = new AdaptiveConcurrency({ cap: 64 });
    w = await startDiscordWorld({
      logLevel: 'warn',
      concurrency: gate,
      anthropic: { rateLimit: { maxConcurrent: 10 }, latency: { ttftMs: 50, tokensPerSecond: 2000 } },
      fake: { globalRequestsPerSecond: 50, enforceRateLimits: true },
    });
    const threads = Array.from({ length: MENTIONS }, (_, i) => w!.discord.addThread(w!.general.id, `burst ${i}`).id);
    await expect.poll(() => threads.every((id) => w!.adapter.client.channels.cache.has(id))).toBe(true);
    const since = w.discord.rest.length;
    threads.forEach((id, i) => w!.discord.post(id, w!.alice, w!.discord.mention(`question ${i}`)));

    await answerInEveryThread(w, threads, { since, timeoutMs: 100_000 });
    await w.h.core.idle();
    await expect.poll(async () => (await w!.h.store.jobs.open()).length, { timeout: 30_000 }).toBe(0);

    threads.forEach((id, i) => expect(w!.discord.botMessages(id).map((m) => m.content)).toEqual([`echo: question ${i}`]));
    const statuses = w.h.anthropic.messageRequests().map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(MENTIONS);
    expect(statuses.filter((s) => s === 429).length).toBeLessThanOrEqual(5);
    expect(w.discord.rest.entries.slice(since).filter((r) => r.status === 429).length).toBeLessThanOrEqual(5);
    expect(gate.peakInFlight).toBeLessThanOrEqual(11);
  });

  it('counts the client’s own requests at login against the global budget: a burst right after a start meets no 429', { timeout: 60_000 }, async () => {
    // A small global limit, so that the requests of the login and the command registration are a
    // good part of the first window.
    w = await startDiscordWorld({ logLevel: 'warn', fake: { globalRequestsPerSecond: 10 }, writeBudget: { key: 'discord:global', limit: 10, windowMs: 1000 } });
    const atLogin = w.discord.rest.entries.length;
    expect(atLogin).toBeGreaterThanOrEqual(3);
    const threads = Array.from({ length: 10 }, (_, i) => w!.discord.addThread(w!.general.id, `right after start ${i}`).id);
    await expect.poll(() => threads.every((id) => w!.adapter.client.channels.cache.has(id))).toBe(true);
    threads.forEach((id, i) => w!.discord.post(id, w!.alice, w!.discord.mention(`question ${i}`)));
    await answerInEveryThread(w, threads, { timeoutMs: 50_000 });
    await w.h.core.idle();
    expect(w.discord.rest.entries.filter((r) => r.status === 429).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('reads the history of threads it did not see created within the budget too: no 429 when they are mentioned right after a start', { timeout: 60_000 }, async () => {
    let threads: string[] = [];
    w = await startDiscordWorld({
      logLevel: 'warn',
      fake: { globalRequestsPerSecond: 10 },
      writeBudget: { key: 'discord:global', limit: 10, windowMs: 1000 },
      // Threads that exist before the bot connects: each mention reads its thread's history first.
      before: (discord) => {
        const general = [...discord.channels.values()].find((channel) => channel.name === 'general') as { id: string };
        threads = Array.from({ length: 10 }, (_, i) => discord.addThread(general.id, `older thread ${i}`).id);
      },
    });
    threads.forEach((id, i) => w!.discord.post(id, w!.alice, w!.discord.mention(`question ${i}`)));
    await answerInEveryThread(w, threads, { timeoutMs: 50_000 });
    await w.h.core.idle();
    expect(w.discord.rest.entries.filter((r) => r.method === 'GET' && /^\/channels\/\d+\/messages$/.test(r.path))).toHaveLength(threads.length);
    expect(w.discord.rest.entries.filter((r) => r.status === 429).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('opens the threads of channel mentions within the budget: no 429 when many come at once', { timeout: 60_000 }, async () => {
    w = await startDiscordWorld({ logLevel: 'warn', fake: { globalRequestsPerSecond: 10 }, writeBudget: { key: 'discord:global', limit: 10, windowMs: 1000 } });
    const mentions = Array.from({ length: 10 }, (_, i) => w!.discord.post(w!.general.id, w!.alice, w!.discord.mention(`channel question ${i}`)));
    await answerInEveryThread(w, mentions.map((mention) => mention.id), { timeoutMs: 50_000 });
    await w.h.core.idle();
    expect(w.discord.rest.entries.filter((r) => r.method === 'POST' && /\/threads$/.test(r.path))).toHaveLength(mentions.length);
    expect(w.discord.rest.entries.filter((r) => r.status === 429).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});
