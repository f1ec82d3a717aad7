/**
 * Mentions this replica did not take in itself but must answer: those a previous run left (at
 * start), those a replica that stopped renewing its lease left (the periodic sweep), and those
 * that waited behind an answer this replica just finished, or behind another replica's (the
 * handoff). Which jobs may be taken, and when, is the store's claim (`jobs.claim`); answering
 * them is `Takeover`'s.
 */
import type { ReplyJob } from '../../store/types.js';
import type { HandleOutcome, Platform } from '../types.js';
import type { AnswerRecords } from './answer-records.js';
import type { Answering } from './answering.js';
import { ClaimsInFlight } from './claims-in-flight.js';
import { ChatPart, type ChatContext } from './context.js';
import type { JobLeases } from './job-leases.js';
import { Takeover, type OwnJob } from './takeover.js';

export class Recovery extends ChatPart {
  private readonly takeover: Takeover;
  /** Claims and the answers they started, for `idle`. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Claims whose jobs are not queued yet: intake waits for them (`claimsQueued`). */
  private readonly claims = new ClaimsInFlight();

  constructor(
    context: ChatContext,
    records: AnswerRecords,
    answering: Answering,
    private readonly leases: JobLeases,
  ) {
    super(context);
    this.takeover = new Takeover(context, records, answering, (platform, conversationId) => this.handOff(platform, conversationId), leases);
    leases.start(() => this.sweep());
  }

  /**
   * At start (adapters call it once connected): the jobs a previous run left. SQLite serves one
   * process, so every open job is this one's to take; on PostgreSQL only those nobody holds
   * alive, the others are still being answered by their replicas.
   */
  async resumePending(platform: Platform): Promise<void> {
    const services = this.platforms.get(platform);
    if (services?.replySink === undefined) {
      const open = (await this.store.jobs.open()).length;
      if (open > 0) this.logger.warn({ platform, open }, 'unanswered mentions may be left from a previous run, but the adapter cannot answer them');
      return;
    }
    if (!this.leases.mayClaim) return;
    await this.claims.run(async (queued) => {
      const jobs = await this.leases.taking((lease) => (this.leases.shared ? this.store.jobs.claim(lease, platform, this.now()) : this.store.jobs.takeAll(lease, platform, this.now())));
      const taken = this.notYetMine(jobs);
      if (taken.length === 0) return queued();
      this.logger.info({ platform, pending: taken.length }, 'answering mentions left from a previous run');
      await this.track(this.takeover.answer(platform, taken, undefined, queued));
    });
  }

  /** Waits until every claim started so far has put its jobs on their threads' answer queues; true when there were any. */
  claimsQueued(): Promise<boolean> {
    return this.claims.settled();
  }

  /**
   * A job intake created unowned (another replica holds the thread's turn, or nobody does):
   * taken here at once when its turn has come after all, then answered through `own`'s sink.
   * Undefined when another replica will answer it (or this one, later, through a handoff).
   */
  takeIn(platform: Platform, conversationId: number, own: OwnJob): Promise<HandleOutcome | undefined> {
    return this.claims.run(async (queued) => {
      const jobs = await this.claimIn(platform, conversationId);
      if (jobs.length === 0) {
        queued();
        return undefined;
      }
      const mine = jobs.some((job) => job.id === own.jobId);
      const answering = this.track(this.takeover.answer(platform, jobs, mine ? own : undefined, queued));
      if (mine) return answering;
      answering.catch((error: unknown) => this.logger.error({ err: error, conversationId }, 'could not answer the replies taken up'));
      return undefined;
    });
  }

  /** Every replica, every third of a lease: the jobs whose owner died, or that nobody holds, when their turn has come. */
  async sweep(): Promise<void> {
    for (const [platform, services] of this.platforms) {
      if (services.replySink === undefined || !this.leases.mayClaim) continue;
      await this.claims.run(async (queued) => {
        const taken = this.notYetMine(await this.leases.taking((lease) => this.store.jobs.claim(lease, platform, this.now())));
        if (taken.length === 0) return queued();
        this.logger.info({ platform, taken: taken.length }, 'taking up replies another replica left or that waited for their turn');
        this.track(this.takeover.answer(platform, taken, undefined, queued)).catch((error: unknown) => this.logger.error({ err: error, platform }, 'could not answer the replies taken up'));
      });
    }
  }

  /**
   * An answer of this conversation is stored: the next job of the thread, taken in by another
   * replica while this one answered, may be taken now. Only where replicas share the database
   * (SQLite's jobs are all this process's, queued already).
   */
  handOff(platform: Platform, conversationId: number): void {
    // Only when the finished job's own statement saw one waiting: no round trip on the common path.
    if (!this.store.jobs.takeWaiting(conversationId)) return;
    this.track(
      this.claims.run(async (queued) => {
        const jobs = await this.claimIn(platform, conversationId);
        if (jobs.length === 0) return queued();
        await this.takeover.answer(platform, jobs, undefined, queued);
      }),
    ).catch((error: unknown) => this.logger.warn({ err: error, conversationId }, 'could not hand the thread on to its next reply; the sweep will'));
  }

  /** Resolves when every claim and the answers it started are done. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async claimIn(platform: Platform, conversationId: number): Promise<ReplyJob[]> {
    // Jobs it takes may be others' questions, posted through the platform's reply sink.
    if (!this.leases.mayClaim || this.platforms.get(platform)?.replySink === undefined) return [];
    return this.notYetMine(await this.leases.taking((lease) => this.store.jobs.claim(lease, platform, this.now(), { conversationId })));
  }

  /** Jobs this replica holds already (queued or answering) are never taken a second time. */
  private notYetMine(jobs: readonly ReplyJob[]): ReplyJob[] {
    return jobs.filter((job) => !this.ownJobs.has(job.id));
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    void work.then(
      () => this.pending.delete(work),
      () => this.pending.delete(work),
    );
    return work;
  }
}
