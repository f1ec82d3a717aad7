/**
 * This replica's leases on reply jobs (issue #19). Each process has a replica id, random per
 * start; the jobs it answers are held in its name until `leaseMs` from the last renewal. Every
 * third of a lease it renews all of them in one UPDATE and sweeps: takes the jobs whose owner
 * stopped renewing, or that nobody holds while their turn has come. On SQLite (one process by
 * definition) nothing runs on a timer: every job is created owned and all open ones are taken
 * at start.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { Lease } from '../../store/jobs.js';

/** A job just created: `owned` when this replica holds it and answers it now, else it waits for its thread's turn. */
export interface CreatedJob {
  readonly id: number;
  readonly owned: boolean;
}

/**
 * A job sent ahead with its message's insert (PostgreSQL intake), before it is known that the
 * message is answered: `keep` it, or `withdraw` it in the same transaction.
 */
export interface JobAhead {
  /** The job's id once the insert is back; undefined when the message had a job already. */
  readonly id: Promise<number | undefined>;
  keep(): Promise<CreatedJob | undefined>;
  withdraw(): Promise<void>;
}

export interface JobLeasesOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  readonly replicaId: string;
  readonly leaseMs: number;
  /** Jobs this replica holds (queued or answering): renewed while any are. */
  readonly ownJobs: ReadonlySet<number>;
}

export class JobLeases {
  readonly replicaId: string;
  readonly leaseMs: number;
  /** Whether other processes may share the database: leases are then renewed, swept and handed off. */
  readonly shared: boolean;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private claiming = true;
  /** Jobs held in this replica's name but not in `ownJobs` at the last renewal. */
  private unaccounted = new Set<number>();
  /** Where leases are shared: the end of the lease last written for each job this replica took (fences its posts, see `holds`). */
  private readonly heldUntil = new Map<number, number>();
  /** Conversations where this replica gave up an answer whose turn has not come back in order yet (`mustWait`). */
  private readonly gaveUpIn = new Set<number>();

  constructor(private readonly options: JobLeasesOptions) {
    this.replicaId = options.replicaId;
    this.leaseMs = options.leaseMs;
    this.shared = options.store.backend === 'postgres';
  }

  /** A lease in this replica's name from now. */
  lease(): Lease {
    return { owner: this.replicaId, expiresAt: this.options.now() + this.leaseMs };
  }

  /**
   * A new job for `messageId` (a mention's, or a regeneration's), as the last statement of `tx`
   * (COMMIT goes with it on PostgreSQL). Owned at once when the thread's turn is free (one process
   * on SQLite: always), so the common path needs no claim of its own. A replica on its way out
   * holds none: its leases are given back (or about to be), and a job it held would stall the
   * thread until the lease ran out; another replica takes it. Undefined when the message has a job.
   */
  createJob(tx: Store, messageId: number, conversationId: number): Promise<CreatedJob | undefined> {
    const at = this.options.now();
    const withId = (owned: boolean) => (id: number | undefined) => (id === undefined ? undefined : { id, owned });
    if (!this.shared) return tx.jobs.create(messageId, conversationId, at, this.lease()).then(withId(true));
    if (this.claiming) {
      const lease = this.lease();
      return tx.commitWith(async (last) => {
        const created = await last.jobs.createInTurn(messageId, conversationId, at, lease);
        // Only a job created owned is held in this replica's name (`holds` fences its posts).
        if (created?.owned === true) this.took(created.id, lease);
        return created;
      });
    }
    return tx.commitWith((last) => last.jobs.create(messageId, conversationId, at)).then(withId(false));
  }

  /**
   * createJob for the message `platformMessageId`, sent now, behind that message's insert in `tx`
   * and before its row id is back (one round trip less for intake). Only where leases are shared
   * (PostgreSQL) and this replica still takes jobs; undefined otherwise (use createJob).
   */
  createJobAhead(tx: Store, conversationId: number, platformMessageId: string): JobAhead | undefined {
    if (!this.shared || !this.claiming) return undefined;
    const lease = this.lease();
    const created = tx.jobs.createInTurnFor(conversationId, platformMessageId, this.options.now(), lease);
    // A failed insert fails the transaction (its error comes from whatever the body awaits).
    created.catch(() => undefined);
    const id = created.then((job) => job?.id);
    id.catch(() => undefined);
    return {
      id,
      keep: async () => {
        const job = await created;
        if (job?.owned === true) this.took(job.id, lease);
        return job;
      },
      withdraw: async () => {
        const job = await created;
        if (job !== undefined) await tx.jobs.withdraw(job.id);
      },
    };
  }

  /**
   * Takes jobs with a lease in this replica's name (`take` writes it: a create or a claim); the
   * jobs it returns are held until that lease ends, unless renewed.
   */
  async taking<T extends { readonly id: number }>(take: (lease: Lease) => Promise<readonly T[]>): Promise<readonly T[]> {
    const lease = this.lease();
    const taken = await take(lease);
    for (const job of taken) this.took(job.id, lease);
    return taken;
  }

  /** A job written with `lease` in this replica's name (created owned, or claimed): held until it ends, unless renewed. */
  took(jobId: number, lease: Lease): void {
    if (this.shared) this.heldUntil.set(jobId, lease.expiresAt);
  }

  /**
   * Whether this replica may still post for the job: its lease, as this replica last wrote it,
   * runs at least another third of a lease. A replica that stopped renewing (frozen, or cut off
   * from the database) past that point may have lost the job to another's sweep, which answers
   * it: this one posts nothing more. Always true on SQLite, and for a job not taken through
   * `taking`.
   */
  holds(jobId: number): boolean {
    const until = this.heldUntil.get(jobId);
    return until === undefined || this.options.now() < until - this.periodMs;
  }

  /**
   * This replica gave up the answer to `jobId` (it lost its lease: see `holds`). The job goes
   * back at once, so a sweep takes it up; and until the thread's turn is back in order, this
   * replica answers nothing else of the conversation it may have queued behind it (`mustWait`):
   * a later question answered first would be answered out of order.
   */
  async gaveUp(jobId: number, conversationId: number): Promise<void> {
    this.gaveUpIn.add(conversationId);
    await this.options.store.jobs.expire(jobId, this.replicaId);
  }

  /**
   * Whether `jobId` must go back instead of being answered now, because an earlier job of its
   * conversation is still open (even one this replica holds: it may be queued behind this one).
   * Asked of a job this replica took up (`takenUp`: two of its claims may come back in the other
   * order than they took their jobs), and of any job of a conversation whose answer was given up
   * here. The job then goes back (its lease ends now), so a sweep, or the handoff once the earlier
   * answer is stored, takes it up in turn. One query, on those paths only; never on SQLite, where
   * one process queues every job in order.
   */
  async mustWait(jobId: number, conversationId: number, takenUp = false): Promise<boolean> {
    const gaveUp = this.gaveUpIn.has(conversationId);
    if (!gaveUp && !(takenUp && this.shared)) return false;
    if (!(await this.options.store.jobs.earlierOpen(jobId, conversationId))) {
      this.gaveUpIn.delete(conversationId);
      return false;
    }
    await this.options.store.jobs.expire(jobId, this.replicaId);
    this.done(jobId);
    return true;
  }

  /** The job is answered or given up here: nothing more to fence. */
  done(jobId: number): void {
    this.heldUntil.delete(jobId);
  }

  /** Every third of a lease: a renewal in time even when one tick is slow or a statement fails. */
  get periodMs(): number {
    return Math.max(10, Math.floor(this.leaseMs / 3));
  }

  /** False once shutting down: no job is taken any more (the others will take them). */
  get mayClaim(): boolean {
    return this.claiming;
  }

  /** Starts renewing and sweeping (`sweep`) every period; only when the database is shared. */
  start(sweep: () => Promise<void>): void {
    if (!this.shared || this.timer !== undefined || !this.claiming) return;
    this.timer = setInterval(() => {
      // A tick still running (a slow database) is not doubled up.
      this.ticking ??= this.tick(sweep).finally(() => (this.ticking = undefined));
    }, this.periodMs);
    this.timer.unref();
  }

  /** One renewal and one sweep; failures are logged and retried at the next tick. */
  async tick(sweep: () => Promise<void>): Promise<void> {
    try {
      await this.renew();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not renew the leases of the replies this replica answers');
    }
    if (!this.claiming) return;
    try {
      await sweep();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not look for replies other replicas left unanswered');
    }
  }

  /**
   * Renews every job held in this replica's name. One held but not among `ownJobs` at two
   * renewals in a row (its answer was never queued: a failure while taking it up) is let go, so a
   * sweep (this replica's or another's) takes it up again; once is no proof, since intake's
   * jobs join `ownJobs` a moment after their commit.
   */
  async renew(): Promise<void> {
    const lease = this.lease();
    const held = await this.options.store.jobs.renew(lease);
    // Only the jobs still in this replica's name: one another replica took over keeps its old end.
    for (const id of held) if (this.heldUntil.has(id)) this.heldUntil.set(id, lease.expiresAt);
    // A job no answer here works on (given up, or answered with an apology) needs no fence once its lease is over.
    for (const [id, until] of this.heldUntil) if (!this.options.ownJobs.has(id) && until < this.options.now()) this.heldUntil.delete(id);
    const lost = held.filter((id) => !this.options.ownJobs.has(id));
    for (const id of lost.filter((id) => this.unaccounted.has(id))) {
      this.options.logger.warn({ jobId: id }, 'a reply this replica held was not being answered; letting it go to be taken up again');
      await this.options.store.jobs.expire(id, this.replicaId);
    }
    this.unaccounted = new Set(lost);
  }

  /** Stops taking jobs (shutdown begins); renewals go on until `release`. */
  stopClaiming(): void {
    this.claiming = false;
  }

  /**
   * Stops the timer and gives back the jobs still held (answers a shutdown cut short), so other
   * replicas take them at once. Without `release` (a test's dead replica), they stay held until
   * their leases expire.
   */
  async stop(options: { readonly release: boolean }): Promise<void> {
    this.claiming = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    if (options.release && this.shared) await this.options.store.jobs.release(this.replicaId);
  }
}
