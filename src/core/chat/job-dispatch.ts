/**
 * A job this replica just created (a mention's, or a regeneration's), on its way to an answer:
 * taken in when another replica holds the thread's turn (recovery decides), else queued on the
 * thread behind this replica's earlier answers, and the thread handed on to its next job once
 * answered.
 */
import type { StoredAnswer } from '../../store/answers.js';
import type { HandleOutcome, Platform, ReplySink } from '../types.js';
import type { Answering } from './answering.js';
import { ChatPart, type ChatContext } from './context.js';
import type { IntakeResult } from './intake.js';
import type { Recovery } from './recovery.js';

type DispatchedJob = Omit<Extract<IntakeResult, { kind: 'job' }>, 'kind'>;

export class JobDispatch extends ChatPart {
  constructor(
    context: ChatContext,
    private readonly answering: Answering,
    private readonly recovery: Recovery,
  ) {
    super(context);
  }

  /** `replacing`: the job writes that answer again, in its place (a regeneration). */
  async answer(platform: Platform, key: string, job: DispatchedJob, makeSink: () => ReplySink, replacing?: StoredAnswer): Promise<HandleOutcome> {
    // Another replica answers this thread now (or its turn is open): answered here only if it can be taken at once.
    if (!job.owned) {
      await job.committed;
      return (await this.recovery.takeIn(platform, job.conversationId, { jobId: job.jobId, makeSink })) ?? { kind: 'recorded' };
    }
    this.ownJobs.add(job.jobId);
    const reply = this.metrics.replyQueued(platform);
    // An earlier job of this thread that this replica just claimed may not be queued yet: after it.
    const waitedForClaims = await this.recovery.claimsQueued();
    // Intake's cache barrier serves the answer too when the answer starts now, having waited for nothing.
    const cachesSynced = job.synced && !waitedForClaims && this.replies.startsAtOnce(key);
    const outcome = await this.replies.run(key, async () => {
      try {
        return await reply.run(() => this.answering.answerSafely(job.jobId, job.conversationId, job.messageId, () => reply.watch(makeSink()), { replacing, cachesSynced, committed: job.committed }));
      } finally {
        this.recovery.handOff(platform, job.conversationId);
      }
    });
    // A message that could not be stored fails its handling, as when intake itself fails (the answer told the user).
    await job.committed;
    return outcome;
  }
}
