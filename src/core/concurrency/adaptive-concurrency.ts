/**
 * How many model calls may be in flight, following what the Messages API says about the
 * account's limits rather than a fixed number. Every response announces what is left
 * (`anthropic-ratelimit-*`); a 429 or 529 says "too much" and, with `retry-after`, for how long.
 *
 * - The limit starts at `initial` and grows while demand exceeds it and the latest successful
 *   response announced room: to the calls in flight plus the remaining requests and tokens (less
 *   the calls started since that response was produced, which the API could not count yet),
 *   looked at on each response and as calls come in. Responses without rate-limit headers (a
 *   proxy) count as room for one more: a doubling per round trip.
 * - It never exceeds what the account allows per minute (`requests-limit`, and `tokens-limit` over
 *   the tokens a call costs): more calls than that at once could never all be accepted.
 * - A 429 or 529 cuts it to three quarters of the calls in flight and holds every new start until
 *   `retry-after` has passed (a short default when the API gives none).
 * - It never leaves [floor, cap]: `cap` is MAX_CONCURRENT_REPLIES, a hard limit.
 *
 * Waiting calls are served fairly: in arrival order within a thread (key), round robin across
 * threads, so one busy thread cannot starve the others; a call retried after a 429 goes first,
 * since it already waited its turn.
 */
import { systemClock, type Clock } from './clock.js';

export interface AdaptiveConcurrencyOptions {
  /** Hard cap on calls in flight (MAX_CONCURRENT_REPLIES). */
  readonly cap: number;
  readonly floor?: number;
  readonly initial?: number;
  readonly clock?: Clock;
  /** Pause after a 429/529 that names no `retry-after`. */
  readonly defaultBackoffMs?: number;
}

/** What a successful response said about the account's remaining budget. */
export interface Headroom {
  readonly requestsRemaining?: number;
  readonly tokensRemaining?: number;
  /** The account's limits themselves (per minute for the real API). */
  readonly requestsLimit?: number;
  readonly tokensLimit?: number;
}

export interface Permit {
  /** The call got its answer headers: the API accepted it. */
  succeeded(headroom: Headroom): void;
  /** The API refused it for load (429/529). */
  refused(retryAfterMs: number | undefined): void;
  /** The call is over (always call this once, after success or failure). */
  release(): void;
}

interface Waiter {
  readonly key: string;
  readonly resolve: (permit: Permit) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
  granted?: boolean;
}

const DECREASE = 0.75;

export class AdaptiveConcurrency {
  readonly cap: number;
  readonly floor: number;
  private currentLimit: number;
  private running = 0;
  private peak = 0;
  /** Starts so far; a response seen after N more starts could not have counted those N. */
  private starts = 0;
  private pausedUntil = 0;
  private cancelWake: (() => void) | undefined;
  /** Tokens one call costs the account, averaged over recent calls (for `tokensRemaining`). */
  private tokensPerCall = 0;
  private readonly clock: Clock;
  private readonly defaultBackoffMs: number;
  private readonly retries: Waiter[] = [];
  /** The latest success's announcement, and how many calls had started when the API counted them. */
  private announced: { readonly headroom: Headroom; readonly ceiling: number; readonly countedStarts: number } | undefined;
  /** Per-thread queues, in the order the threads are to be served. */
  private readonly queues = new Map<string, Waiter[]>();

  constructor(options: AdaptiveConcurrencyOptions) {
    this.cap = Math.max(1, Math.floor(options.cap));
    this.floor = Math.min(this.cap, Math.max(1, Math.floor(options.floor ?? 2)));
    this.currentLimit = Math.min(this.cap, Math.max(this.floor, Math.floor(options.initial ?? 8)));
    this.clock = options.clock ?? systemClock;
    this.defaultBackoffMs = options.defaultBackoffMs ?? 1000;
  }

  get limit(): number {
    return this.currentLimit;
  }

  get inFlight(): number {
    return this.running;
  }

  /** The most calls in flight at once so far. */
  get peakInFlight(): number {
    return this.peak;
  }

  get waiting(): number {
    let count = this.retries.length;
    for (const queue of this.queues.values()) count += queue.length;
    return count;
  }

  /** The earliest time a new call may start because of a 429/529 (0: not paused). */
  get pausedUntilMs(): number {
    return this.pausedUntil;
  }

  /**
   * Resolves with a permit when the call may start. `retry` puts it at the head of the line (a
   * call refused with 429/529 that waited its turn once already).
   */
  acquire(key: string, options: { readonly retry?: boolean; readonly signal?: AbortSignal } = {}): Promise<Permit> {
    return new Promise<Permit>((resolve, reject) => {
      if (options.signal?.aborted === true) {
        reject(options.signal.reason);
        return;
      }
      const waiter: Waiter = { key, resolve, reject, signal: options.signal };
      if (options.retry === true) this.retries.push(waiter);
      else {
        const queue = this.queues.get(key);
        if (queue === undefined) this.queues.set(key, [waiter]);
        else queue.push(waiter);
      }
      this.grow(false);
      this.dispatch();
      // Only a call that waits listens for its signal: most are granted at once, and an
      // EventTarget listener added and removed again is a dear pair of calls on every model call.
      if (options.signal !== undefined && waiter.granted !== true) {
        waiter.onAbort = () => {
          if (this.remove(waiter)) reject(options.signal?.reason);
        };
        options.signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  }

  /** Tokens a finished call used (input written to the account's limit, plus output). */
  observeTokens(tokens: number): void {
    if (!(tokens > 0)) return;
    this.tokensPerCall = this.tokensPerCall === 0 ? tokens : this.tokensPerCall * 0.8 + tokens * 0.2;
  }

  private grant(waiter: Waiter): void {
    waiter.granted = true;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.running += 1;
    this.starts += 1;
    this.peak = Math.max(this.peak, this.running);
    const startedAt = this.starts;
    let released = false;
    let judged = false;
    waiter.resolve({
      succeeded: (headroom) => {
        if (judged) return;
        judged = true;
        this.onSuccess(headroom, this.starts - startedAt);
      },
      refused: (retryAfterMs) => {
        if (judged) return;
        judged = true;
        this.onRefused(retryAfterMs);
      },
      release: () => {
        if (released) return;
        released = true;
        this.running -= 1;
        this.dispatch();
      },
    });
  }

  private onSuccess(headroom: Headroom, startedSince: number): void {
    const ceiling = Math.min(
      headroom.requestsLimit ?? Number.POSITIVE_INFINITY,
      headroom.tokensLimit === undefined || this.tokensPerCall === 0 ? Number.POSITIVE_INFINITY : Math.floor(headroom.tokensLimit / this.tokensPerCall),
    );
    if (this.currentLimit > ceiling) this.currentLimit = Math.max(this.floor, ceiling);
    this.announced = { headroom, ceiling, countedStarts: this.starts - startedSince };
    if (this.grow(true)) this.dispatch();
  }

  /**
   * Raises the limit to the room the last announcement leaves, when demand exceeds it: the calls
   * in flight plus the requests and tokens remaining, less the calls started since that response
   * (the API could not count them). Also when calls come in later than the announcement: the
   * responses to a burst's first calls can all be back before its other mentions are in, and
   * without another announcement the limit would wait for a call to end. `onResponse`: without
   * announcements, a response is room for one more.
   */
  private grow(onResponse: boolean): boolean {
    const announced = this.announced;
    if (announced === undefined) return false;
    const { headroom, ceiling, countedStarts } = announced;
    const demand = this.running + this.waiting;
    if (demand <= this.currentLimit || this.currentLimit >= Math.min(this.cap, ceiling)) return false;
    const startedSince = this.starts - countedStarts;
    const requestsLeft = headroom.requestsRemaining === undefined ? Number.POSITIVE_INFINITY : headroom.requestsRemaining - startedSince;
    const tokensLeft =
      headroom.tokensRemaining === undefined || this.tokensPerCall === 0
        ? Number.POSITIVE_INFINITY
        : headroom.tokensRemaining / this.tokensPerCall - startedSince;
    const room = Math.floor(Math.min(requestsLeft, tokensLeft));
    if (room < 1 || (!Number.isFinite(room) && !onResponse)) return false;
    // Announced room is taken at once (the calls in flight plus what the account has left);
    // without announcements, one more per success: a doubling per round trip.
    const target = Number.isFinite(room) ? this.running + room : this.currentLimit + 1;
    const raised = Math.min(this.cap, ceiling, Math.max(this.currentLimit + 1, target));
    if (raised <= this.currentLimit) return false;
    this.currentLimit = raised;
    return true;
  }

  private onRefused(retryAfterMs: number | undefined): void {
    const now = this.clock.now();
    // What the API announced before saying "too much" is no room to grow into.
    this.announced = undefined;
    // Refusals of one episode (calls sent together, refused together) cut the limit once.
    if (now >= this.pausedUntil) this.currentLimit = Math.max(this.floor, Math.min(this.currentLimit, Math.floor(this.running * DECREASE)));
    this.pausedUntil = Math.max(this.pausedUntil, now + (retryAfterMs ?? this.defaultBackoffMs));
  }

  private dispatch(): void {
    const now = this.clock.now();
    if (now < this.pausedUntil) {
      this.wakeAt(this.pausedUntil);
      return;
    }
    while (this.running < this.currentLimit) {
      const next = this.next();
      if (next === undefined) return;
      this.grant(next);
    }
  }

  /** Retries first, then the first waiter of the thread whose turn it is; that thread goes to the back. */
  private next(): Waiter | undefined {
    const retry = this.retries.shift();
    if (retry !== undefined) return retry;
    for (const [key, queue] of this.queues) {
      const waiter = queue.shift();
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
      if (waiter !== undefined) return waiter;
    }
    return undefined;
  }

  private wakeAt(at: number): void {
    if (this.waiting === 0) return;
    this.cancelWake?.();
    this.cancelWake = this.clock.after(at - this.clock.now(), () => {
      this.cancelWake = undefined;
      this.dispatch();
    });
  }

  private remove(waiter: Waiter): boolean {
    const index = this.retries.indexOf(waiter);
    if (index >= 0) {
      this.retries.splice(index, 1);
      return true;
    }
    const queue = this.queues.get(waiter.key);
    const at = queue?.indexOf(waiter) ?? -1;
    if (queue === undefined || at < 0) return false;
    queue.splice(at, 1);
    if (queue.length === 0) this.queues.delete(waiter.key);
    return true;
  }
}
