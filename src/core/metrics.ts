/**
 * What operators see at `GET /metrics` (Prometheus text format, interface.md). Every series is
 * defined here and nowhere else; the core and the model client call the few methods below. The
 * registry is injected, so tests read their own and a process can expose one registry for all.
 *
 * Labels are bounded sets only (platform, outcome, token kind, error code, source): never message
 * text, names or ids, which would leak what people said and make the series count unbounded.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelUsage } from './model-client.js';
import type { FinalReply, HandleOutcome, Platform, ReplySink } from './types.js';
import { retryAfterMs } from './concurrency/rate-limit-headers.js';
import { LOAD_STATUSES } from './model-stream.js';

/** Latency buckets in seconds: first tokens usually come within 0.5–5 s, queues can add tens. */
const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60];

export type ReplyOutcome = 'answered' | 'failed' | 'limited' | 'refused' | 'stopped' | 'ignored' | 'error';
export type ErrorSource = 'model' | 'platform';

/** The part of the metrics the model client feeds. */
export interface ModelMetrics {
  firstToken(seconds: number): void;
  modelUsage(usage: ModelUsage): void;
  error(source: ErrorSource, code: string): void;
  rateLimitWait(seconds: number): void;
}

/** One reply's way through the core: queued → in flight → an outcome. */
export interface ReplyTracker {
  /** Runs the answer: counts it in flight while it runs, then records its outcome. */
  run(answer: () => Promise<HandleOutcome>): Promise<HandleOutcome>;
  /** The sink, watched for the first text handed to the platform (time to first visible text). */
  watch(sink: ReplySink): ReplySink;
}

export class Metrics implements ModelMetrics {
  readonly registry: Registry;
  private readonly replies: Counter<'platform' | 'outcome'>;
  private readonly tokens: Counter<'kind'>;
  private readonly firstTokenSeconds: Histogram;
  private readonly firstVisibleSeconds: Histogram;
  private readonly inFlight: Gauge;
  private readonly queued: Gauge;
  private readonly errors: Counter<'source' | 'code'>;
  private readonly rateLimitWaits: Histogram;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.replies = new Counter({ name: 'threadline_replies_total', help: 'Replies by platform and outcome', labelNames: ['platform', 'outcome'], registers });
    this.tokens = new Counter({ name: 'threadline_model_tokens_total', help: 'Messages API tokens by kind', labelNames: ['kind'], registers });
    this.firstTokenSeconds = new Histogram({
      name: 'threadline_model_first_token_seconds',
      help: 'From sending a Messages API request to its first text token',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.firstVisibleSeconds = new Histogram({
      name: 'threadline_first_visible_seconds',
      help: 'From taking up a message to handing the first answer text to the platform (queue, request building and model included)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({ name: 'threadline_replies_in_flight', help: 'Replies being answered now', registers });
    this.queued = new Gauge({ name: 'threadline_replies_queued', help: 'Replies waiting for their thread or a free model slot', registers });
    this.errors = new Counter({ name: 'threadline_errors_total', help: 'Model and platform errors by code', labelNames: ['source', 'code'], registers });
    this.rateLimitWaits = new Histogram({
      name: 'threadline_rate_limit_wait_seconds',
      help: 'Waits the Messages API asked for (retry-after on 429/529 answers)',
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers,
    });
    // Series operators alert on exist from the start, at zero, not only after the first event.
    for (const kind of ['input', 'output', 'cache_read', 'cache_write']) this.tokens.inc({ kind }, 0);
  }

  /** A reply was queued; call `run` on what it returns when its turn comes. */
  replyQueued(platform: Platform): ReplyTracker {
    this.queued.inc();
    const queuedAt = performance.now();
    let seen = false;
    const markVisible = () => {
      if (seen) return;
      seen = true;
      this.firstVisibleSeconds.observe((performance.now() - queuedAt) / 1000);
    };
    return {
      run: async (answer) => {
        this.queued.dec();
        this.inFlight.inc();
        let outcome: ReplyOutcome = 'error';
        try {
          const result = await answer();
          outcome = outcomeOf(result);
          return result;
        } finally {
          this.inFlight.dec();
          this.replies.inc({ platform, outcome });
        }
      },
      watch: (sink) => watchSink(sink, markVisible),
    };
  }

  firstToken(seconds: number): void {
    this.firstTokenSeconds.observe(seconds);
  }

  modelUsage(usage: ModelUsage): void {
    this.tokens.inc({ kind: 'input' }, usage.inputTokens);
    this.tokens.inc({ kind: 'output' }, usage.outputTokens);
    this.tokens.inc({ kind: 'cache_read' }, usage.cacheReadTokens);
    this.tokens.inc({ kind: 'cache_write' }, usage.cacheCreationTokens);
  }

  /** `code` must come from a closed set (ErrorCode): it is a label. */
  error(source: ErrorSource, code: string): void {
    this.errors.inc({ source, code });
  }

  rateLimitWait(seconds: number): void {
    this.rateLimitWaits.observe(seconds);
  }
}

function outcomeOf(result: HandleOutcome): ReplyOutcome {
  if ((result.kind === 'failed' && result.code === 'stopped_by_user') || (result.kind === 'answered' && result.stopped === true)) return 'stopped';
  return result.kind === 'recorded' ? 'ignored' : result.kind;
}

/**
 * The same sink, reporting the first moment it is given text to show. A proxy, so whatever else
 * a sink offers (now or later) passes through untouched.
 */
function watchSink(sink: ReplySink, markVisible: () => void): ReplySink {
  const progress = (text: string) => {
    if (text.trim() !== '') markVisible();
    sink.progress?.(text);
  };
  const finish = (reply: FinalReply) => {
    markVisible();
    return sink.finish(reply);
  };
  return new Proxy(sink, {
    get(target, property) {
      if (property === 'progress') return progress;
      if (property === 'finish') return finish;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A fetch for the Anthropic SDK that notes the waits the API asks for on 429/529 (the model
 * client's gate then honours them), read the way the gate reads them.
 */
export function observeRateLimits(inner: typeof fetch, metrics: Pick<ModelMetrics, 'rateLimitWait'>): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (LOAD_STATUSES.has(response.status)) {
      const ms = retryAfterMs(response.headers);
      if (ms !== undefined) metrics.rateLimitWait(ms / 1000);
    }
    return response;
  };
}
