/**
 * `npm run bench`: every figure issue 10 asks for (and memory per idle thread), in one run,
 * offline against the test doubles. Timings on a shared 2-core machine are noisy, so each figure compares the bot with
 * its floor side by side in the same run; nothing here is asserted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedShare, concurrentThreads, idleThreadMemory } from './core-bench.js';
import { overheadPerReply } from './overhead-bench.js';
import { AdaptiveConcurrency } from '../src/core/concurrency/adaptive-concurrency.js';
import { fixedEight, idealFigure, latencyBurst, type LatencyFigure, type LatencyScenario } from './latency-bench.js';
import { firstTokenToVisible, historyCallsPerReply } from './platform-bench.js';
import { createTestDatabase } from '../test/helpers/postgres.js';

const ROOT = join(import.meta.dirname, '..');
const out = (line = '') => process.stdout.write(`${line}\n`);
const fixed = (n: number, digits = 2) => n.toFixed(digits);

/** `npm run bench -- --only overhead` runs figure 1 alone (SQLite, and PostgreSQL when configured) and writes no results file. */
function onlyFigure(argv: readonly string[]): string | undefined {
  const index = argv.indexOf('--only');
  if (index === -1) return undefined;
  const name = argv[index + 1];
  if (name !== 'overhead') throw new Error(`--only takes one figure name: overhead (got ${name ?? 'nothing'})`);
  return name;
}

async function main(): Promise<void> {
  const only = onlyFigure(process.argv.slice(2));
  out('threadline benchmarks (loopback doubles; in 1-6 model time ≈ 0, so what remains is the bot; 7-8 give the model a real latency)');
  out();

  // PostgreSQL too when BENCH_DATABASE_URL names a server where a throwaway database may be created.
  const postgresServer = process.env.BENCH_DATABASE_URL;
  const figures = await overheadPerReply([10, 100, 500], 60, postgresServer === undefined || postgresServer === '' ? undefined : () => createTestDatabase(postgresServer));
  const overhead = figures.sqlite;
  const postgres = figures.postgres;
  out('1. Time per reply vs. floor (bare SDK call to the same double + one platform post)');
  out('   messages   bot ms   floor ms   ratio');
  for (const row of overhead) out(`   ${String(row.messages).padStart(8)}   ${fixed(row.botMs).padStart(6)}   ${fixed(row.floorMs).padStart(8)}   ${fixed(row.ratio).padStart(5)}×`);
  if (postgres === undefined) out('   on PostgreSQL: not measured (set BENCH_DATABASE_URL to a server where a database may be created)');
  else {
    out('   the same on PostgreSQL (DATABASE_URL), measured in turns with SQLite: per-reply overhead = bot ms − floor ms');
    for (const row of postgres) out(`   ${String(row.messages).padStart(8)}   ${fixed(row.botMs).padStart(6)}   ${fixed(row.floorMs).padStart(8)}   ${fixed(row.ratio).padStart(5)}×  (PostgreSQL)`);
    out('   messages   SQLite overhead ms   PostgreSQL overhead ms   difference ms');
    for (const [index, row] of postgres.entries()) {
      const sqlite = overhead[index] as (typeof overhead)[number];
      const sqliteOverhead = sqlite.botMs - sqlite.floorMs;
      const postgresOverhead = row.botMs - row.floorMs;
      out(`   ${String(row.messages).padStart(8)}   ${fixed(sqliteOverhead).padStart(18)}   ${fixed(postgresOverhead).padStart(22)}   ${fixed(postgresOverhead - sqliteOverhead).padStart(13)}`);
    }
  }
  out();
  if (only === 'overhead') return;

  const history = await historyCallsPerReply(100, 10);
  out('2. Platform history calls per reply (Discord, 100-message thread, 10 replies)');
  out(`   first reply (backfill): ${history.historyCallsFirstReply}   each later reply: ${fixed(history.historyCallsPerLaterReply)}`);
  out();

  const cache = await cachedShare(20);
  out('3. Prompt cache over a 20-turn thread');
  out(`   cached share of input tokens: ${fixed(cache.cachedShare * 100, 1)} %  (read ${cache.cacheReadTokens}, written ${cache.cacheCreationTokens}, uncached ${cache.inputTokens})`);
  const busy = await cachedShare(20, 30);
  out(`   with 30 messages of chatter between mentions: ${fixed(busy.cachedShare * 100, 1)} %  (read ${busy.cacheReadTokens}, written ${busy.cacheCreationTokens}, uncached ${busy.inputTokens})`);
  const pdf = await cachedShare(20, 0, { pdfPages: 30 });
  out(`   starting with a 30-page PDF: ${fixed(pdf.cachedShare * 100, 1)} %  vs. ${fixed(cache.cachedShare * 100, 1)} % plain  (read ${pdf.cacheReadTokens}, written ${pdf.cacheCreationTokens}, uncached ${pdf.inputTokens})`);
  const web = await cachedShare(20, 0, { webTools: true });
  out(`   with web search and fetch on (a link read every third turn): ${fixed(web.cachedShare * 100, 1)} %  (read ${web.cacheReadTokens}, written ${web.cacheCreationTokens}, uncached ${web.inputTokens})`);
  out();

  const burst = await concurrentThreads(200);
  out('4. 200 threads mentioned at once');
  out(`   throughput ${fixed(burst.repliesPerSecond, 1)} replies/s   p50 ${fixed(burst.p50Ms, 1)} ms   p99 ${fixed(burst.p99Ms, 1)} ms   peak RSS ${burst.peakRssMb} MB`);
  out();

  const first = await firstTokenToVisible(5);
  out("5. Model's first token → first visible Discord message");
  out(`   median ${fixed(first.medianMs, 0)} ms   max ${fixed(first.maxMs, 0)} ms  (${first.samples} replies)`);
  out();

  const idle = await idleThreadMemory(2000);
  out('6. Memory per idle thread (2000 answered threads of 10 messages, after a full GC)');
  out(idle.bytesPerThread === null ? '   n/a: run with node --expose-gc' : `   ${fixed(idle.bytesPerThread / 1024, 2)} KB heap per thread (the in-memory caches are capped; the rest lives in SQLite)`);

  out();

  const realLatency = await realLatencyFigures();

  const results = { at: new Date().toISOString(), node: process.version, overhead, postgresOverhead: postgres, history, cache, busyThreadCache: busy, pdfThreadCache: pdf, webToolsCache: web, burst, firstVisible: first, idleMemory: idle, realLatency };
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  out();
  out('written: bench/results.json');
}

/**
 * Figures 7 and 8: a model that takes seconds, the account's and Discord's limits in force, the
 * adaptive policy beside the fixed-8 policy of before (eight model calls at a time, which never
 * meets the account limit, so one run serves both tables) and the ideal.
 */
async function realLatencyFigures() {
  const base: LatencyScenario = { threads: 200, ttftMs: 800, tokensPerSecond: 80, answerTokens: 300, platformWritesPerSecond: 50 };
  const limited: LatencyScenario = { ...base, apiConcurrentLimit: 50 };
  out(`7-8. A real model's latency: ${base.threads} threads mentioned at once, TTFT ${base.ttftMs} ms, ${base.tokensPerSecond} tokens/s, ${base.answerTokens}-token answers, Discord ${base.platformWritesPerSecond} requests/s`);
  out('   (mention → first visible text; the ideal: model calls in waves of what the limits allow, first texts within the write budget)');
  const a = await latencyBurst(limited, 'adaptive', new AdaptiveConcurrency({ cap: 64 }));
  const b = await latencyBurst(base, 'adaptive', new AdaptiveConcurrency({ cap: 256 }));
  const fixed8 = await latencyBurst(limited, 'fixed-8', fixedEight());
  const table = (title: string, rows: readonly LatencyFigure[]) => {
    out(title);
    out('     policy      p50 ms    p99 ms   total ms   API 429s   Discord 429s   peak in flight');
    for (const row of rows) {
      out(
        `     ${row.policy.padEnd(9)} ${fixed0(row.p50Ms).padStart(8)}  ${fixed0(row.p99Ms).padStart(8)}  ${fixed0(row.totalMs).padStart(9)}  ${String(row.api429s).padStart(9)}  ${String(row.discord429s).padStart(13)}  ${String(row.peakInFlight).padStart(15)}`,
      );
    }
    const [ours, , ideal] = rows as [LatencyFigure, LatencyFigure, LatencyFigure];
    out(`     p99 vs ideal: ${ours.p99Ms - ideal.p99Ms >= 0 ? '+' : ''}${fixed0(ours.p99Ms - ideal.p99Ms)} ms   p99 vs fixed-8: ${fixed(rows[1]!.p99Ms / ours.p99Ms, 1)}× faster`);
  };
  const idealA = idealFigure(limited, 64);
  const idealB = idealFigure(base, 256);
  table('   (a) account limit 50 concurrent requests, MAX_CONCURRENT_REPLIES=64 (the default)', [a, fixed8, idealA]);
  table('   (b) no account limit, MAX_CONCURRENT_REPLIES=256', [b, fixed8, idealB]);
  return { a: { adaptive: a, fixed8, ideal: idealA }, b: { adaptive: b, fixed8, ideal: idealB } };
}

const fixed0 = (n: number) => n.toFixed(0);

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
