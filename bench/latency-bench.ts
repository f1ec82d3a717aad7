/**
 * What users feel under a real model: many threads mentioned at once while the model takes
 * seconds (time to first token, tokens per second) and both the Anthropic account and Discord
 * limit the bot. The real Discord adapter (discord.js) and the real SDK run against the doubles
 * with those limits on (each double in a process of its own, as the real services run
 * elsewhere); each figure is printed beside the fixed-8 policy and the ideal, the
 * best the limits in force allow.
 */
import { AdaptiveConcurrency } from '../src/core/concurrency/adaptive-concurrency.js';
import { startDiscordBot } from '../test/discord/setup.js';
import { startRemoteDiscord } from './remote-discord.js';
import { TEST_API_KEY } from '../test/helpers/harness.js';
import { startRemoteFakeAnthropic } from './remote-fake.js';
import { percentile } from './stats.js';

export interface LatencyScenario {
  readonly threads: number;
  readonly ttftMs: number;
  readonly tokensPerSecond: number;
  readonly answerTokens: number;
  /** The account's limit on concurrent requests (undefined: none). */
  readonly apiConcurrentLimit?: number;
  /** Discord's global limit. */
  readonly platformWritesPerSecond: number;
}

export interface LatencyFigure {
  readonly policy: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly totalMs: number;
  readonly api429s: number;
  readonly discord429s: number;
  readonly peakInFlight: number;
}

const OUT_OF_REACH = 100_000;

/** Deltas the fake streams: 16 characters (4 tokens) each, at the model's pace. */
const CHUNK_CHARS = 16;
const FIRST_SENTENCE = 'The short answer is yes. ';

export function answerText(tokens: number): string {
  const filler = 'Here is why, with the details that matter for your setup. ';
  let text = FIRST_SENTENCE;
  while (text.length + filler.length <= tokens * 4) text += filler;
  return text.padEnd(tokens * 4, '.');
}

/**
 * The best the limits allow: model calls in waves of what the account (and the cap) allow,
 * each answer's first sentence written at the model's pace, and at most `platformWritesPerSecond`
 * first-text writes in any second.
 */
export function idealFigure(scenario: LatencyScenario, cap: number): LatencyFigure {
  const allowed = Math.min(cap, scenario.apiConcurrentLimit ?? Number.POSITIVE_INFINITY);
  const callMs = scenario.ttftMs + (scenario.answerTokens / scenario.tokensPerSecond) * 1000;
  const chunkMs = (CHUNK_CHARS / 4 / scenario.tokensPerSecond) * 1000;
  const sentenceMs = (Math.ceil(FIRST_SENTENCE.trimEnd().length / CHUNK_CHARS) - 1) * chunkMs;
  const ready = Array.from({ length: scenario.threads }, (_, i) => Math.floor(i / allowed) * callMs + scenario.ttftMs + sentenceMs).sort((a, b) => a - b);
  const written: number[] = [];
  for (const [k, at] of ready.entries()) {
    const windowStart = written[k - scenario.platformWritesPerSecond];
    written.push(windowStart === undefined ? at : Math.max(at, windowStart + 1000));
  }
  const waves = Math.ceil(scenario.threads / allowed);
  return { policy: 'ideal', p50Ms: percentile(written, 50), p99Ms: percentile(written, 99), totalMs: waves * callMs, api429s: 0, discord429s: 0, peakInFlight: Math.min(allowed, scenario.threads) };
}

/** Runs the burst once with the given concurrency policy. */
export async function latencyBurst(scenario: LatencyScenario, policy: string, gate: AdaptiveConcurrency): Promise<LatencyFigure> {
  const model = await startRemoteFakeAnthropic({
    apiKey: TEST_API_KEY,
    latency: { ttftMs: scenario.ttftMs, tokensPerSecond: scenario.tokensPerSecond },
    defaultText: answerText(scenario.answerTokens),
    // The real API announces the account's limits on every response; "no limit" is one far above the burst.
    rateLimit: { maxConcurrent: scenario.apiConcurrentLimit ?? OUT_OF_REACH },
  });
  // Discord too in a process of its own: its REST handling and gateway are not the bot's work.
  const discord = await startRemoteDiscord({ globalRequestsPerSecond: scenario.platformWritesPerSecond, enforceRateLimits: true });
  const bot = await startDiscordBot(discord.ready, {
    logLevel: 'warn',
    spacingMs: 1000,
    concurrency: gate,
    modelBaseUrl: model.url,
  });
  try {
    // Threads people opened while the bot was watching: it knows them without reading history.
    const threads = await discord.openThreads(scenario.threads, 'burst');
    while (!threads.every((id) => bot.adapter.client.channels.cache.has(id))) await new Promise((resolve) => setTimeout(resolve, 5));
    const mentioned = await discord.mentionAll(threads, 'can we ship it?');
    await bot.h.core.idle();
    while ((await bot.h.store.jobs.open()).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await bot.h.core.idle();
    }
    const { elapsedMs, rest429s } = await discord.since(mentioned);
    return {
      policy,
      p50Ms: percentile(mentioned.latencies, 50),
      p99Ms: percentile(mentioned.latencies, 99),
      totalMs: elapsedMs,
      api429s: (await model.statuses()).filter((status) => status === 429).length,
      discord429s: rest429s,
      peakInFlight: gate.peakInFlight,
    };
  } finally {
    await bot.close();
    await discord.close();
    await model.close();
  }
}

/** The fixed-8 policy of before: eight model calls at a time, whatever the account allows. */
export const fixedEight = () => new AdaptiveConcurrency({ cap: 8, floor: 8, initial: 8 });
