/**
 * Answering jobs this replica took up rather than took in: left by a previous run (recovery at
 * start), by a replica that stopped renewing its lease (a sweep), or waiting behind an answer
 * this replica just finished (a handoff). What a previous owner half-posted is removed first;
 * a job too old, or taken up too often, gets an apology instead of an answer.
 */
import type { Logger } from 'pino';
import { ThreadlineError } from '../../errors.js';
import type { StoredAnswer } from '../../store/answers.js';
import type { Conversation, ReplyJob, StoredMessage } from '../../store/types.js';
import type { HandleOutcome, Platform, PlatformServices, ReplySink, ThreadRef } from '../types.js';
import type { AnswerRecords } from './answer-records.js';
import type { Answering } from './answering.js';
import type { JobLeases } from './job-leases.js';
import { ChatPart, type ChatContext } from './context.js';
import { refOf, threadKey } from './thread-refs.js';

const STALE_APOLOGY =
  "Sorry, I was restarted before I could answer this, and by now the answer may no longer be useful. Mention me again if you still need it.";
/**
 * Takeovers (restarts, or replicas that died) that may take up one unanswered mention. A mention
 * whose answer was under way at each of them (a crash it causes, say) gets an apology instead,
 * so it cannot keep the bot down.
 */
const MAX_RESUMES = 3;
/** A regeneration taken up too late: the old answer stays, with this note. */
const STALE_REGENERATION = 'I was restarted while writing a new answer, and by now it may no longer be useful. Press Regenerate again if you still want one.';
const ABANDONED_APOLOGY =
  'Sorry, I could not answer this: I was restarted while answering it several times in a row. Please ask again, perhaps in other words.';

/** The job of an inbound message this replica took in: answered with the adapter's own sink. */
export interface OwnJob {
  readonly jobId: number;
  readonly makeSink: () => ReplySink;
}

export class Takeover extends ChatPart {
  constructor(
    context: ChatContext,
    private readonly records: AnswerRecords,
    private readonly answering: Answering,
    /** Called once a job's answer (or apology) is stored: the next job of its thread may be taken. */
    private readonly afterAnswer: (platform: Platform, conversationId: number) => void,
    private readonly leases: Pick<JobLeases, 'mustWait'>,
  ) {
    super(context);
  }

  /**
   * Queues `jobs` (taken by this replica, oldest first) on their threads' answer queues, in one
   * synchronous pass so a thread's answers keep their order; resolves when all are done, with
   * the outcome of `own` when it was among them.
   */
  async answer(platform: Platform, jobs: readonly ReplyJob[], own?: OwnJob, queued: () => void = () => {}): Promise<HandleOutcome | undefined> {
    // Claims queue their jobs in the order they were made: a later claim (the thread's next job)
    // must not overtake an earlier one still reading its jobs.
    const before = this.queueing;
    let done!: () => void;
    this.queueing = new Promise<void>((resolve) => (done = resolve));
    const onQueued = () => {
      done();
      queued();
    };
    try {
      await before;
      return await this.queueAndAnswer(platform, jobs, own, onQueued);
    } finally {
      // Also when it failed before queueing anything: nothing may wait for it.
      onQueued();
    }
  }

  /** The last `answer` call's queueing (see there). */
  private queueing: Promise<void> = Promise.resolve();

  private async queueAndAnswer(platform: Platform, jobs: readonly ReplyJob[], own: OwnJob | undefined, queued: () => void): Promise<HandleOutcome | undefined> {
    const services = this.platforms.get(platform);
    for (const job of jobs) this.ownJobs.add(job.id);
    const found: Array<{ job: ReplyJob; conversation: Conversation; message: StoredMessage; replacing: StoredAnswer | undefined }> = [];
    for (const job of jobs) {
      // Another replica may have recorded the question (and more of the thread) since this one
      // last read the conversation: its cached thread is read again.
      if (job.id !== own?.jobId) this.store.messages.invalidate(job.conversationId);
      const conversation = await this.store.conversations.get(job.conversationId);
      const message = await this.store.messages.get(job.messageId);
      const live = conversation !== undefined && message !== undefined && message.deletedAt === null;
      const replacing = live ? await this.regenerated(message) : undefined;
      // A regeneration needs a platform that can put the new answer in the old one's place.
      if (!live || (replacing !== undefined && services?.replaceSink === undefined)) {
        await this.store.jobs.finish(job.id, 'dropped', this.now());
        this.ownJobs.delete(job.id);
        if (conversation !== undefined) this.afterAnswer(platform, conversation.id);
        continue;
      }
      found.push({ job, conversation, message, replacing });
    }
    const maxAge = this.options.pendingReplyMaxAgeMs ?? 30 * 60_000;
    const runs: Array<() => Promise<HandleOutcome>> = [];
    let ownIndex: number | undefined;
    for (const { job, conversation, message, replacing } of found) {
      const thread = refOf(conversation);
      const mine = own?.jobId === job.id ? own : undefined;
      const makeSink =
        mine?.makeSink ??
        (replacing === undefined
          ? () => (services?.replySink as NonNullable<PlatformServices['replySink']>)(thread, message.platformMessageId)
          : () => (services?.replaceSink as NonNullable<PlatformServices['replaceSink']>)(thread, message.platformMessageId, replacing.platformMessageIds));
      const log = this.logger.child({ thread: conversation.threadKey, message: message.platformMessageId });
      // A previous owner may have posted (part of) this answer before it died without recording it.
      const clearStrays = () => (job.attempts > 0 && services !== undefined ? this.removeStrayReplies(services, thread, conversation.id, message.platformMessageId, log) : Promise.resolve());
      const apology =
        this.now() - job.createdAt > maxAge
          ? { text: replacing === undefined ? STALE_APOLOGY : STALE_REGENERATION, failure: new ThreadlineError('reply_expired', 'too old'), why: 'mention too old to answer when taken up; apologizing' }
          : job.attempts > MAX_RESUMES
            ? { text: ABANDONED_APOLOGY, failure: new ThreadlineError('reply_abandoned', 'resumed too often'), why: 'mention was taken up at each of the last restarts; apologizing instead' }
            : undefined;
      const work =
        apology === undefined
          ? () => {
              // Counted as a queued reply only when it is one: an apology never runs through it.
              const reply = this.metrics.replyQueued(platform);
              return reply.run(async () => {
                // Another claim of this replica may have taken an earlier job of the thread and not queued it yet.
                if (await this.leases.mustWait(job.id, conversation.id, true)) {
                  log.info('an earlier reply of this thread is still open: leaving this one to be taken up after it, in order');
                  this.ownJobs.delete(job.id);
                  return { kind: 'failed', code: 'reply_abandoned', postedIds: [] } as const;
                }
                await clearStrays();
                return this.answering.answerSafely(job.id, conversation.id, message.id, () => reply.watch(makeSink()), { replacing });
              });
            }
          : async () => {
              log.warn({ ageMs: this.now() - job.createdAt, attempts: job.attempts }, apology.why);
              try {
                await clearStrays();
                return await this.records.failWith(job.id, message, makeSink(), apology.text, apology.failure, log, replacing);
              } finally {
                this.ownJobs.delete(job.id);
              }
            };
      if (mine !== undefined) ownIndex = runs.length;
      runs.push(() =>
        this.replies.run(threadKey(thread), async () => {
          try {
            return await work();
          } finally {
            this.afterAnswer(platform, conversation.id);
          }
        }),
      );
    }
    const started = runs.map((run) => run());
    queued();
    const outcomes = await Promise.all(started);
    return ownIndex === undefined ? undefined : outcomes[ownIndex];
  }

  /**
   * The stored answer a job writes again, or undefined when the job writes its message's first
   * answer. A first answer is stored in the same commit that closes its job, so an open job whose
   * question has an answer (with text: a failure's note is stored without) is a regeneration.
   */
  private async regenerated(message: StoredMessage): Promise<StoredAnswer | undefined> {
    if (message.role !== 'user') return undefined;
    const answer = await this.store.answers.answerTo(message.id);
    return answer === undefined || answer.text === '' ? undefined : answer;
  }

  /** Removes what an interrupted answer left visible, so the fresh answer is the only one. */
  async removeStrayReplies(services: PlatformServices, thread: ThreadRef, conversationId: number, messageId: string, log: Logger): Promise<void> {
    if (services.removeStrayReplies === undefined) return;
    const keep = new Set((await this.store.messages.thread(conversationId)).map((stored) => stored.platformMessageId));
    try {
      const removed = await services.removeStrayReplies(thread, messageId, keep);
      if (removed > 0) log.info({ removed }, 'removed a reply the previous run posted but never recorded');
    } catch (error) {
      log.warn({ err: error }, 'could not look for a reply the previous run may have posted');
    }
  }
}
