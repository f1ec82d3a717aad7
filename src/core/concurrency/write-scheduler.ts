/**
 * Spends a platform's write budget where users feel it. Every reply's platform writes ask here
 * first and are sent the moment they are let through, so the platform library's own limiter
 * (discord.js's 50 requests per second, Slack's per-method tiers) never has a queue of its own
 * and never meets a 429 it has to wait out.
 *
 * Under a burst, writes go by what they mean to a person:
 *   1. `first`  the first visible text of an answer somebody is waiting for;
 *   2. `final`  the final text of an answer (never dropped, only ever delayed: one that has
 *               waited FINAL_PATIENCE_MS goes before everything);
 *   3. `typing` the "working on it" sign of an answer still queued (at most `typingShare`, enough
 *               to keep the signs of a long queue alive);
 *   4. `edit`   a progress edit of an answer already showing text (at most `editShare`).
 * Within a kind, first come first served. Each write names the budgets it spends ("50 per
 * second for the whole bot", "1 per second in this channel", …) and waits until all have room.
 *
 * A write counts against a budget from when it is let through until a window after it *came
 * back*: by then the platform has surely counted it, so however late a busy process actually
 * sends it, no window on the platform's side ever sees more than the limit. Answers streaming at
 * once also space their edits further apart (`editSpacing`) so that together they fit.
 */
import { systemClock, type Clock } from './clock.js';

export type WriteKind = 'first' | 'final' | 'typing' | 'edit';

/** At most `limit` writes in any `windowMs`. */
export interface WriteBudget {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

export interface WriteSchedulerOptions {
  /** The budget every write spends (Discord: the bot's global limit). */
  readonly shared?: WriteBudget;
  readonly clock?: Clock;
  /** Share of a budget progress edits may fill, leaving room for first texts that come up. */
  readonly editShare?: number;
  /** Share of a budget typing signs may fill. */
  readonly typingShare?: number;
}

/** A write let through: call `done` once the platform has answered it (or it failed). */
export interface WriteTicket {
  done(): void;
}

interface Pending {
  readonly kind: WriteKind;
  readonly budgets: readonly WriteBudget[];
  readonly seq: number;
  /** When it was asked for. */
  readonly since: number;
  readonly grant: () => void;
}

interface Usage {
  inFlight: number;
  /** When writes came back, oldest first (pruned past the window). */
  readonly completed: number[];
}

/**
 * How long a final text waits while first texts are coming. Its reader already sees the answer
 * streaming; a reader still waiting for a first text sees nothing. Past this it goes first, with
 * the whole budget, so finals always land however many first texts keep coming.
 */
const FINAL_PATIENCE_MS = 2000;

const PRIORITY: Record<WriteKind, number> = { first: 0, final: 1, typing: 2, edit: 3 };
/** The place of a final text that has waited FINAL_PATIENCE_MS: before everything. */
const OVERDUE = -1;

export class WriteScheduler {
  private readonly clock: Clock;
  private readonly shared: WriteBudget | undefined;
  private readonly editShare: number;
  private readonly typingShare: number;
  private readonly usage = new Map<string, Usage>();
  private readonly pending: Pending[] = [];
  private readonly heldUntil = new Map<string, number>();
  private seq = 0;
  private streams = 0;
  /** Answers whose model call runs but whose first text is not out yet (`expectFirst`). */
  private awaitingFirst = 0;
  private cancelWake: (() => void) | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;

  constructor(options: WriteSchedulerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.shared = options.shared;
    this.editShare = options.editShare ?? 0.8;
    this.typingShare = options.typingShare ?? 0.4;
  }

  /**
   * Resolves with a ticket when a write of this kind may be sent: send it right away, then call
   * `done`. `budgets` are the write's own besides the shared one (a channel's, a method's).
   * Resolves `undefined`, having spent nothing, when `signal` aborts first (a progress edit the
   * final text made pointless, a typing sign the first text made pointless).
   */
  acquire(kind: WriteKind, budgets: readonly WriteBudget[] = [], signal?: AbortSignal): Promise<WriteTicket | undefined> {
    if (signal?.aborted === true) return Promise.resolve(undefined);
    const all = this.shared === undefined ? budgets : [this.shared, ...budgets];
    return new Promise<WriteTicket | undefined>((resolve) => {
      const onAbort = () => {
        const index = this.pending.indexOf(write);
        if (index >= 0) this.pending.splice(index, 1);
        resolve(undefined);
      };
      const write: Pending = {
        kind,
        budgets: all,
        seq: (this.seq += 1),
        since: this.clock.now(),
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.ticket(all));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.push(write);
      this.dispatch();
    });
  }

  /** Sends `call` as a write of this kind once it may go; `undefined` when `signal` aborted it first. */
  async run<T>(kind: WriteKind, call: () => Promise<T>, budgets: readonly WriteBudget[] = [], signal?: AbortSignal): Promise<T | undefined> {
    const ticket = await this.acquire(kind, budgets, signal);
    if (ticket === undefined) return undefined;
    try {
      return await call();
    } finally {
      ticket.done();
    }
  }

  /** The platform answered 429 for this budget: nothing spends it before `retryAfterMs`. */
  hold(budgetKey: string, retryAfterMs: number): void {
    this.heldUntil.set(budgetKey, Math.max(this.heldUntil.get(budgetKey) ?? 0, this.clock.now() + retryAfterMs));
    this.dispatch();
  }

  /** An answer started streaming edits (`true`) or stopped (`false`). */
  streaming(active: boolean): void {
    this.streams = Math.max(0, this.streams + (active ? 1 : -1));
  }

  /**
   * How far apart one answer's progress edits should be: `baseMs`, or more while the answers
   * streaming at once would together want more edits than the shared budget's edit share.
   */
  editSpacing(baseMs: number): number {
    if (this.shared === undefined || this.streams === 0) return baseMs;
    const editsPerMs = (this.shared.limit * this.editShare) / this.shared.windowMs;
    return Math.max(baseMs, Math.ceil(this.streams / editsPerMs));
  }

  /**
   * An answer's model call has started: its first text is a time-to-first-token away. Until the
   * returned release is called (the first text went out, or the answer ended), the shared budget
   * keeps a slot for it that typing signs, progress edits and (all but a floor of) final texts may
   * not take: what they hold would still count when the first texts arrive. Idempotent release.
   */
  expectFirst(): () => void {
    this.awaitingFirst += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.awaitingFirst -= 1;
      this.dispatch();
    };
  }

  /**
   * A request the platform counted against `budgetKey` that did not ask here (a client's own
   * calls at login, a command registration): it came back now, and spends a
   * window of that budget like any write. Without it, a burst right after a start would find the
   * window fuller than this scheduler knows, and the platform's 429 would cost every answer the
   * wait it asks for.
   */
  spent(budgetKey: string): void {
    const usage = this.usage.get(budgetKey) ?? { inFlight: 0, completed: [] };
    usage.completed.push(this.clock.now());
    this.usage.set(budgetKey, usage);
  }

  /** Writes waiting for budget, by kind (for tests and the bench). */
  waiting(kind?: WriteKind): number {
    return kind === undefined ? this.pending.length : this.pending.filter((p) => p.kind === kind).length;
  }

  private ticket(budgets: readonly WriteBudget[]): WriteTicket {
    for (const budget of budgets) {
      const usage = this.usage.get(budget.key) ?? { inFlight: 0, completed: [] };
      usage.inFlight += 1;
      this.usage.set(budget.key, usage);
    }
    let done = false;
    return {
      done: () => {
        if (done) return;
        done = true;
        const now = this.clock.now();
        for (const budget of budgets) {
          const usage = this.usage.get(budget.key);
          if (usage === undefined) continue;
          usage.inFlight -= 1;
          usage.completed.push(now);
        }
        this.dispatch();
      },
    };
  }

  private dispatch(): void {
    const now = this.clock.now();
    const rank = (write: Pending) => (this.overdue(write, now) ? OVERDUE : PRIORITY[write.kind]);
    this.pending.sort((a, b) => rank(a) - rank(b) || a.seq - b.seq);
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.pending.length; ) {
      const write = this.pending[i] as Pending;
      const readyAt = this.readyAt(write, now);
      if (readyAt <= now) {
        this.pending.splice(i, 1);
        write.grant();
        continue;
      }
      earliest = Math.min(earliest, readyAt);
      // A final text still within its patience: look again when it runs out.
      if (write.kind === 'final' && !this.overdue(write, now)) earliest = Math.min(earliest, write.since + FINAL_PATIENCE_MS);
      i += 1;
    }
    this.scheduleWake(earliest);
  }

  private overdue(write: Pending, now: number): boolean {
    return write.kind === 'final' && now - write.since >= FINAL_PATIENCE_MS;
  }

  /** When this write's budgets all have room for it (infinite: when a write in flight comes back). */
  private readyAt(write: Pending, now: number): number {
    let at = now;
    const share = write.kind === 'edit' ? this.editShare : write.kind === 'typing' ? this.typingShare : 1;
    for (const budget of write.budgets) {
      const held = this.heldUntil.get(budget.key);
      if (held !== undefined && held <= now) this.heldUntil.delete(budget.key);
      else if (held !== undefined) at = Math.max(at, held);
      const limit = this.limitFor(write, budget, share, now);
      const usage = this.current(budget, now);
      const over = usage.inFlight + usage.completed.length - limit + 1;
      if (over <= 0) continue;
      at = over > usage.completed.length ? Number.POSITIVE_INFINITY : Math.max(at, (usage.completed[over - 1] as number) + budget.windowMs);
    }
    return at;
  }

  /** How many writes of this kind the budget may hold at once, after the slots kept for coming first texts. */
  private limitFor(write: Pending, budget: WriteBudget, share: number, now: number): number {
    const own = Math.max(1, Math.floor(budget.limit * share));
    if (write.kind === 'first' || budget !== this.shared || this.overdue(write, now)) return own;
    return own - Math.min(this.awaitingFirst, budget.limit);
  }

  private current(budget: WriteBudget, now: number): Usage {
    const usage = this.usage.get(budget.key);
    if (usage === undefined) return { inFlight: 0, completed: [] };
    let drop = 0;
    while (drop < usage.completed.length && (usage.completed[drop] as number) <= now - budget.windowMs) drop += 1;
    if (drop > 0) usage.completed.splice(0, drop);
    // Per-channel budgets come and go: forget the idle ones.
    if (usage.inFlight === 0 && usage.completed.length === 0) this.usage.delete(budget.key);
    return usage;
  }

  private scheduleWake(at: number): void {
    if (at === this.wakeAt) return;
    this.cancelWake?.();
    this.cancelWake = undefined;
    this.wakeAt = at;
    if (!Number.isFinite(at)) return;
    this.cancelWake = this.clock.after(at - this.clock.now(), () => {
      this.cancelWake = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.dispatch();
    });
  }
}
