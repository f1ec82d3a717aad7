/**
 * Core-level figures: cache share over a conversation, a 200-thread burst and memory per idle
 * thread (the overhead per reply is overhead-bench.ts). The model is the loopback double, so "model time" is near zero and
 * what remains is the bot's own cost.
 */
import type { ReplySink, ThreadRef } from '../src/core/types.js';
import { createCoreHarness, type Harness } from '../test/helpers/harness.js';
import { pdfBytes } from '../test/helpers/documents.js';
import { inbound } from '../test/helpers/messages.js';
import { startPlatformStub, type PlatformStub } from './platform-stub.js';
import { percentile, rssSampler, timed } from './stats.js';

/** A sink that posts the answer (or the failure) to the platform stub once, as the floor does. */
export function postingSink(platform: PlatformStub): ReplySink {
  return {
    async start() {},
    async finish(reply) {
      return [await platform.post(reply.text)];
    },
    async fail(message) {
      return [await platform.post(message)];
    },
  };
}

const thread = (key: string): ThreadRef => ({ platform: 'discord', workspaceId: 'bench-guild', channelId: 'bench-channel', threadKey: key });

export interface CacheFigure {
  readonly turns: number;
  readonly cachedShare: number;
  readonly inputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheCreationTokens: number;
}

/**
 * Share of input tokens read from the (simulated) prompt cache over a conversation; with
 * `chatterBetween`, people talk among themselves that many messages between two mentions; with
 * `pdfPages`, the first question carries a PDF of that many pages (a private file, uploaded once);
 * with `webTools`, web search and fetch are on and every third question has a link the model reads.
 */
export async function cachedShare(turns: number, chatterBetween = 0, { pdfPages = 0, webTools = false }: { pdfPages?: number; webTools?: boolean } = {}): Promise<CacheFigure> {
  const h: Harness = await createCoreHarness({
    anthropic: { minCacheableTokens: 1024, ...(webTools ? { web: {} } : {}) },
    logLevel: 'info',
    followUpWithoutMention: chatterBetween === 0,
    ...(webTools ? { webTools: { search: true, fetch: true } } : {}),
  });
  const platform = await startPlatformStub();
  const pdf = pdfBytes(pdfPages);
  h.core.registerPlatform('discord', { urlsArePublic: false, download: async () => ({ bytes: pdf, contentType: 'application/pdf' }) });
  try {
    const ref = thread('cache');
    for (let turn = 0; turn < turns; turn += 1) {
      if (turn > 0 && chatterBetween > 0) {
        await h.core.ingest(Array.from({ length: chatterBetween }, (_, i) => inbound(`side remark ${turn}.${i}: ${'what do you think about that? '.repeat(4)}`, { thread: ref, author: { id: `u${i % 3}`, name: `Person ${i % 3}` } })));
      }
      h.anthropic.enqueue({ text: `Answer ${turn}. ${'Here is a detailed explanation with examples. '.repeat(30)}` });
      const attachments =
        turn === 0 && pdfPages > 0 ? [{ id: 'spec', name: 'spec.pdf', mediaType: 'application/pdf', size: pdf.length, url: 'https://files.example/spec.pdf' }] : [];
      const link = webTools && turn % 3 === 1 ? ` See https://docs.example.com/design/${turn} for context.` : '';
      await h.core.handle(inbound(`Question ${turn}: ${'could you explain this part of the design? '.repeat(6)}${link}`, { thread: ref, mentionsBot: true, attachments }), {
        sink: () => postingSink(platform),
      });
    }
    const usage = h.anthropic.messageRequests().map((request) => request.usage);
    const sum = (pick: (u: NonNullable<(typeof usage)[number]>) => number) => usage.reduce((total, u) => total + (u === undefined ? 0 : pick(u)), 0);
    const input = sum((u) => u.input_tokens);
    const read = sum((u) => u.cache_read_input_tokens);
    const created = sum((u) => u.cache_creation_input_tokens);
    return { turns, cachedShare: read / (input + read + created), inputTokens: input, cacheReadTokens: read, cacheCreationTokens: created };
  } finally {
    await platform.close();
    await h.close();
  }
}

export interface BurstFigure {
  readonly threads: number;
  readonly repliesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly peakRssMb: number;
}

/** Many threads mentioned at once: throughput, latency spread and memory. */
export async function concurrentThreads(count: number): Promise<BurstFigure> {
  const h = await createCoreHarness({ logLevel: 'info' });
  const platform = await startPlatformStub();
  try {
    const rss = rssSampler();
    const started = performance.now();
    const latencies = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const run = await timed(() => h.core.handle(inbound(`burst ${i}`, { thread: thread(`burst-${i}`), mentionsBot: true }), { sink: () => postingSink(platform) }));
        return run.ms;
      }),
    );
    const elapsed = performance.now() - started;
    return { threads: count, repliesPerSecond: count / (elapsed / 1000), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), peakRssMb: rss.stop() };
  } finally {
    await platform.close();
    await h.close();
  }
}

export interface IdleMemoryFigure {
  readonly threads: number;
  /** Heap kept per answered, now idle thread; `null` without `--expose-gc`. */
  readonly bytesPerThread: number | null;
}

/**
 * What an answered thread costs the process once nobody talks in it: heap growth over `count`
 * threads of ten messages each, after a full GC, against a warmed-up baseline. The doubles'
 * own records are dropped first, so only the bot's memory is measured.
 */
export async function idleThreadMemory(count: number): Promise<IdleMemoryFigure> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const h = await createCoreHarness({ logLevel: 'info' });
  const platform = await startPlatformStub();
  try {
    const answerThreads = async (from: number, to: number) => {
      for (let i = from; i < to; i += 1) {
        const ref = thread(`idle-${i}`);
        await h.core.handle(inbound(`thread ${i}: ${'a question with a few words in it '.repeat(6)}`, { thread: ref, mentionsBot: true }), { sink: () => postingSink(platform) });
        await h.core.ingest(Array.from({ length: 8 }, (_, k) => inbound(`reply ${k} in thread ${i}: ${'some chatter '.repeat(10)}`, { thread: ref })));
      }
      h.anthropic.forgetRequests();
      h.anthropic.forgetCache();
    };
    const heap = () => {
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    await answerThreads(0, 100);
    const before = heap();
    await answerThreads(100, 100 + count);
    const after = heap();
    return { threads: count, bytesPerThread: gc === undefined ? null : Math.max(0, after - before) / count };
  } finally {
    await platform.close();
    await h.close();
  }
}
