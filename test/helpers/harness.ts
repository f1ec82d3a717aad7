/**
 * The real core on a real temp-file database, talking to the fake Messages API through the real
 * SDK. Adapter tests put their platform fake in front of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ThinkingSetting } from '../../src/core/answer-controls/thinking.js';
import { ChatService } from '../../src/core/chat-service.js';
import type { Metrics } from '../../src/core/metrics.js';
import type { AdaptiveConcurrency } from '../../src/core/concurrency/adaptive-concurrency.js';
import { createModelClient, type ModelClient } from '../../src/core/model-client.js';
import { Health } from '../../src/http/health.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/store/index.js';
import { startFakeAnthropic, type FakeAnthropic, type FakeAnthropicOptions } from '../fakes/anthropic.js';

export const TEST_API_KEY = 'sk-ant-test-0123456789abcdef';

export interface HarnessOptions {
  readonly model?: string;
  readonly followUpWithoutMention?: boolean;
  readonly maxTokens?: number;
  /** Reuse a database (a restart); by default a fresh temp file. */
  readonly databasePath?: string;
  /** PostgreSQL instead of SQLite (a test database's URL). */
  readonly databaseUrl?: string;
  readonly contextBudgetTokens?: number;
  readonly idleTimeoutMs?: number;
  readonly maxRetries?: number;
  readonly anthropic?: FakeAnthropicOptions;
  /** Extra secrets the log scrubber must know about (platform tokens). */
  readonly secrets?: readonly string[];
  readonly logLevel?: string;
  /** Largest text attachment inlined (TEXT_ATTACHMENT_MAX_BYTES in the core's options). */
  readonly textAttachmentMaxBytes?: number;
  /** THINKING. */
  readonly thinking?: ThinkingSetting;
  /** Metrics to count into (a test reads its registry); a private one by default. */
  readonly metrics?: Metrics;
  /** Defaults of the web tool settings (default: the core's, search off and fetch on). */
  readonly webTools?: { readonly search?: boolean; readonly fetch?: boolean };
  readonly webToolLimits?: { readonly searchMaxUses: number; readonly fetchMaxUses: number };
  readonly dailySearchBudget?: number;
  /** Per-user and per-channel requests a minute and the daily token budget (unset: none). */
  readonly limits?: { readonly userPerMinute: number; readonly channelPerMinute: number; readonly dailyTokenBudget: number };
  /** The model client's concurrency gate (default: one capped at 64). */
  readonly concurrency?: AdaptiveConcurrency;
  /** A Messages API elsewhere (the bench's fake in a process of its own) instead of `anthropic`. */
  readonly modelBaseUrl?: string;
  /** The core's clock (default: Date.now). */
  readonly now?: () => number;
}

export interface Harness {
  readonly core: ChatService;
  readonly store: Store;
  readonly anthropic: FakeAnthropic;
  /** The core's model client (spy on it to see when the model is called). */
  readonly model: ModelClient;
  readonly logger: Logger;
  readonly logLines: string[];
  readonly health: Health;
  readonly databasePath: string;
  close(): Promise<void>;
}

export function captureLogger(secrets: readonly string[] = [], level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { logger: createLogger({ level, secrets, destination }), lines };
}

export async function createCoreHarness(options: HarnessOptions = {}): Promise<Harness> {
  const ownDirectory = options.databasePath === undefined ? mkdtempSync(join(tmpdir(), 'threadline-test-')) : undefined;
  const databasePath = options.databasePath ?? join(ownDirectory as string, 'threadline.db');
  const anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY, ...options.anthropic });
  const store = await Store.open({ databasePath, databaseUrl: options.databaseUrl });
  const { logger, lines } = captureLogger([TEST_API_KEY, ...(options.secrets ?? [])], options.logLevel);
  const model = createModelClient({
    apiKey: TEST_API_KEY,
    baseUrl: options.modelBaseUrl ?? anthropic.url,
    maxRetries: options.maxRetries ?? 2,
    idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
    logger,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
  const core = new ChatService({
    store,
    model,
    logger,
    modelId: options.model ?? 'claude-opus-4-8',
    maxTokens: options.maxTokens ?? 1024,
    contextBudgetTokens: options.contextBudgetTokens ?? 150_000,
    followUpWithoutMention: options.followUpWithoutMention ?? true,
    ...(options.textAttachmentMaxBytes === undefined ? {} : { textAttachmentMaxBytes: options.textAttachmentMaxBytes }),
    ...(options.thinking === undefined ? {} : { thinking: options.thinking }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    // The defaults of the web settings (WEB_SEARCH / WEB_FETCH); unset, the core's own (search off, fetch on).
    ...(options.webTools === undefined ? {} : { webSearch: options.webTools.search ?? false, webFetch: options.webTools.fetch ?? false }),
    ...(options.webToolLimits === undefined ? {} : { webToolLimits: options.webToolLimits }),
    ...(options.dailySearchBudget === undefined ? {} : { dailySearchBudget: options.dailySearchBudget }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const health = new Health(() => store.isHealthy());
  return {
    core,
    store,
    anthropic,
    model,
    logger,
    logLines: lines,
    health,
    databasePath,
    async close() {
      await core.idle().catch(() => undefined);
      await core.stopLeases().catch(() => undefined);
      await anthropic.close();
      await store.close();
      if (ownDirectory !== undefined) rmSync(ownDirectory, { recursive: true, force: true });
    },
  };
}
