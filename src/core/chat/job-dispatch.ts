/**
 * A job intake created, on its way to an answer: taken in when another replica holds the
 * thread's turn (recovery decides), else queued on the thread behind this replica's earlier
 * answers, and the thread handed on to its next job once answered.
 */
import type { HandleOutcome, InboundContext, Platform } from '../types.js';
import type { Answering } from './answering.js';
import { ChatPart, type ChatContext } from './context.js';
import type { IntakeResult } from './intake.js';
import type { Recovery } from './recovery.js';

type JobIntake = Extract<IntakeResult, { kind: 'job' }>;

export class JobDispatch extends ChatPart {
  constructor(
    context: ChatContext,
    private readonly answering: Answering,
    private readonly recovery: Recovery,
  ) {
    super(context);
  }

  async answer(platform: Platform, key: string, job: JobIntake, ctx: InboundContext): Promise<HandleOutcome> {
    // Another replica answers this thread now (or its turn is open): answered here only if it can be taken at once.
    if (!job.owned) return (await this.recovery.takeIn(platform, job.conversationId, { jobId: job.jobId, makeSink: ctx.sink })) ?? { kind: 'recorded' };
    this.ownJobs.add(job.jobId);
    const reply = this.metrics.replyQueued(platform);
    // An earlier job of this thread that this replica just claimed may not be queued yet: after it.
    const waitedForClaims = await this.recovery.claimsQueued();
    // Intake's cache barrier serves the answer too when the answer starts now, having waited for nothing.
    const cachesSynced = job.synced && !waitedForClaims && this.replies.startsAtOnce(key);
    return this.replies.run(key, async () => {
      try {
        return await reply.run(() => this.answering.answerSafely(job.jobId, job.conversationId, job.messageId, () => reply.watch(ctx.sink()), undefined, cachesSynced));
      } finally {
        this.recovery.handOff(platform, job.conversationId);
      }
    });
  }
}
