/**
 * threadline's entry point: config → logger → store → core → adapters → HTTP, and an orderly
 * shutdown. Adapters are loaded only for the platforms that are configured.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';
import { ChatService } from './core/chat-service.js';
import { Metrics } from './core/metrics.js';
import { AdaptiveConcurrency } from './core/concurrency/adaptive-concurrency.js';
import { createModelClient } from './core/model-client.js';
import { DEFAULT_SHARD_POLL_MS, LockedShardAssignment } from './core/shards/shard-assignment.js';
import { Health } from './http/health.js';
import { metricsHandler } from './http/metrics.js';
import { startHealthServer, type RunningServer } from './http/server.js';
import { createLogger } from './logger.js';
import { Store } from './store/index.js';

interface RunningAdapter {
  start(): Promise<void>;
  /** Stops taking events; replies in flight can still post. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

const SHUTDOWN_DEADLINE_MS = 10_000;
const PRUNE_INTERVAL_MS = 6 * 60 * 60 * 1000;

function readConfig(): Config {
  try {
    loadDotEnv();
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`threadline: invalid configuration\n${error.problems.map((line) => `  ${line}`).join('\n')}\n`);
    } else {
      process.stderr.write(`threadline: cannot read configuration: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.anthropic.apiKey, config.discord?.token, config.slack?.botToken, config.slack?.appToken, config.slack?.signingSecret, config.databaseUrl, passwordOf(config.databaseUrl)],
  });

  // Names this process among the replicas sharing a database (leases, cache notifications); random per start.
  const replicaId = randomUUID();
  let store: Store;
  try {
    store = await Store.open({ databaseUrl: config.databaseUrl, databasePath: config.databasePath, synchronousCommit: config.databaseSynchronousCommit }, logger, replicaId);
  } catch (error) {
    fail(logger, error, 'cannot open the database');
  }

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new Metrics(registry);
  const serveMetrics = metricsHandler(registry);

  const core = new ChatService({
    store,
    metrics,
    model: createModelClient({
      apiKey: config.anthropic.apiKey,
      baseUrl: config.anthropic.baseUrl,
      maxRetries: config.anthropic.maxRetries,
      idleTimeoutMs: config.anthropic.idleTimeoutMs,
      logger,
      metrics,
      concurrency: new AdaptiveConcurrency({ cap: config.limits.maxConcurrentReplies }),
    }),
    logger,
    modelId: config.anthropic.model,
    maxTokens: config.anthropic.maxTokens,
    contextBudgetTokens: config.anthropic.contextBudgetTokens,
    followUpWithoutMention: config.followUpWithoutMention,
    thinking: config.thinking,
    limits: config.limits,
    pendingReplyMaxAgeMs: config.pendingReplyMaxAgeMs,
    webSearch: config.web.search,
    webFetch: config.web.fetch,
    webToolLimits: { searchMaxUses: config.web.searchMaxUses, fetchMaxUses: config.web.fetchMaxUses },
    dailySearchBudget: config.web.dailySearchBudget,
    replicaId,
    replyLeaseMs: config.replyLeaseMs,
  });
  const health = new Health(() => store.isHealthy());
  const adapters: RunningAdapter[] = [];

  if (config.discord !== undefined) {
    health.enable('discord');
    const { createDiscordAdapter } = await import('./adapters/discord/index.js');
    // Shards are split among the replicas sharing the database (SQLite: all are this process's).
    // So are their IDENTIFYs: one per bucket per 5 s for the whole bot, turns taken through the database.
    const shards = new LockedShardAssignment(store.resourceLocks('discord-shards'), logger.child({ component: 'shards' }), DEFAULT_SHARD_POLL_MS, (key, windowMs) => store.takeTurn(key, windowMs));
    adapters.push(
      createDiscordAdapter({ config: config.discord, core, logger, health, answerMissedWithinMs: config.pendingReplyMaxAgeMs, shards }),
    );
  }
  const slackServesHttp = config.slack !== undefined && config.slack.appToken === undefined;
  if (config.slack !== undefined) {
    health.enable('slack');
    const { createSlackAdapter } = await import('./adapters/slack/index.js');
    adapters.push(createSlackAdapter({ config: config.slack, core, logger, health, port: config.port, extraRoutes: [{ path: '/metrics', handler: serveMetrics }] }));
  }
  let playground: { handle: (req: IncomingMessage, res: ServerResponse) => void } | undefined;
  if (config.playground !== undefined) {
    health.enable('web');
    const { createWebAdapter } = await import('./adapters/web/index.js');
    const web = createWebAdapter({ core, logger, health, uploadsDir: config.playground.uploadsDir, listenHost: config.playground.host });
    playground = web;
    adapters.push(web);
  }

  let server: RunningServer | undefined;
  try {
    if (!slackServesHttp) {
      server = await startHealthServer(config.port, health, logger, {
        metrics: serveMetrics,
        ...(config.playground === undefined ? {} : { host: config.playground.host }),
        ...(playground === undefined ? {} : { app: playground.handle }),
      });
    }
    for (const adapter of adapters) await adapter.start();
  } catch (error) {
    fail(logger, error, 'startup failed');
  }
  logger.info({ model: config.anthropic.model, database: store.backend, replica: core.replicaId, discord: config.discord !== undefined, slack: config.slack !== undefined, playground: config.playground !== undefined }, 'threadline is running');
  if (config.playground !== undefined && server !== undefined) {
    const url = playgroundUrl(config.playground.host, server.port);
    logger.info({ url }, `playground: open ${url} in your browser`);
  }
  const prune = () => {
    core.prune(config.retentionDays).catch((error: unknown) => logger.error({ err: error }, 'pruning old data failed'));
  };
  prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  pruneTimer.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(pruneTimer);
    logger.info({ signal }, 'shutting down: finishing replies in flight');
    // Other replicas' jobs first: a replica on its way out sweeps up none while its adapters stop.
    core.stopTakingJobs();
    await Promise.allSettled(adapters.map((adapter) => adapter.stop()));
    const deadline = new Promise<'deadline'>((resolve) => setTimeout(() => resolve('deadline'), SHUTDOWN_DEADLINE_MS).unref());
    if ((await Promise.race([core.idle().then(() => 'idle' as const), deadline])) === 'deadline') {
      logger.warn('shutdown deadline reached; unfinished replies stay pending in the database (another replica takes them at once)');
    }
    await core.stopLeases().catch((error: unknown) => logger.warn({ err: error }, 'could not give back the leases of unfinished replies; they are taken over once they expire'));
    await Promise.allSettled(adapters.map((adapter) => adapter.close()));
    await server?.close();
    await store.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the database failed'));
    logger.flush();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

/** Where a browser on this machine reaches the playground. */
function playgroundUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/`;
}

function fail(logger: Logger, error: unknown, what: string): never {
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal({ err: error }, `${what}: ${message}`);
  logger.flush();
  process.stderr.write(`threadline: ${what}: ${message}\n`);
  process.exit(1);
}

void main();

/** A PostgreSQL URL's password, so the log scrubber knows it on its own too. */
function passwordOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
