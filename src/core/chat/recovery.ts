/**
 * After a restart: the mentions a previous run left unanswered are answered now, or apologized
 * for when too old or taken up too often, after removing what that run posted but never recorded.
 */
import type { Logger } from 'pino';
import { ThreadlineError } from '../../errors.js';
import type { Conversation, ReplyJob, StoredMessage } from '../../store/types.js';
import type { Platform, PlatformServices, ThreadRef } from '../types.js';
import type { AnswerRecords } from './answer-records.js';
import type { Answering } from './answering.js';
import { ChatPart, type ChatContext } from './context.js';
import { refOf, threadKey } from './thread-refs.js';

const STALE_APOLOGY =
  "Sorry, I was restarted before I could answer this, and by now the answer may no longer be useful. Mention me again if you still need it.";
/**
 * Restarts that may take up one unanswered mention. A mention whose answer was under way at each
 * of them (a crash it causes, say) gets an apology instead, so it cannot keep the bot down.
 */
const MAX_RESUMES = 3;
const ABANDONED_APOLOGY =
  'Sorry, I could not answer this: I was restarted while answering it several times in a row. Please ask again, perhaps in other words.';

export class Recovery extends ChatPart {
  constructor(
    context: ChatContext,
    private readonly records: AnswerRecords,
    private readonly answering: Answering,
  ) {
    super(context);
  }

  async resumePending(platform: Platform): Promise<void> {
    const services = this.platforms.get(platform);
    // Events that arrived since this process started may already have jobs of their own here.
    const found: Array<{ job: ReplyJob; conversation: Conversation; message: StoredMessage }> = [];
    for (const job of await this.store.jobs.open()) {
      if (this.ownJobs.has(job.id)) continue;
      const conversation = await this.store.conversations.get(job.conversationId);
      const message = await this.store.messages.get(job.messageId);
      if (conversation?.platform === platform && message !== undefined) found.push({ job, conversation, message });
    }
    // Checked again, and taken below with no await in between: intake may have taken some meanwhile.
    const jobs = found.filter(({ job }) => !this.ownJobs.has(job.id));
    if (jobs.length === 0) return;
    if (services?.replySink === undefined) {
      this.logger.warn({ platform, pending: jobs.length }, 'unanswered mentions from a previous run, but the adapter cannot answer them');
      return;
    }
    const maxAge = this.options.pendingReplyMaxAgeMs ?? 30 * 60_000;
    this.logger.info({ platform, pending: jobs.length }, 'answering mentions left from a previous run');
    for (const { job } of jobs) this.ownJobs.add(job.id);
    // What to do with each job is decided (and stored) first; then every job joins its thread's
    // queue in one synchronous pass, oldest first, so a thread's answers keep their order.
    const runs: Array<() => Promise<unknown>> = [];
    for (const { job, conversation, message } of jobs) {
      const thread = refOf(conversation);
      const makeSink = () => (services.replySink as NonNullable<PlatformServices['replySink']>)(thread, message.platformMessageId);
      if (message.deletedAt !== null) {
        await this.store.jobs.finish(job.id, 'dropped', this.now());
        this.ownJobs.delete(job.id);
        continue;
      }
      const log = this.logger.child({ thread: conversation.threadKey, message: message.platformMessageId });
      // The last run may have posted (part of) this answer before it died without recording it.
      const clearStrays = () => this.removeStrayReplies(services, thread, conversation.id, message.platformMessageId, log);
      const apology =
        this.now() - job.createdAt > maxAge
          ? { text: STALE_APOLOGY, failure: new ThreadlineError('reply_expired', 'too old'), why: 'mention too old to answer after restart; apologizing' }
          : job.attempts >= MAX_RESUMES
            ? { text: ABANDONED_APOLOGY, failure: new ThreadlineError('reply_abandoned', 'resumed too often'), why: 'mention was taken up at each of the last restarts; apologizing instead' }
            : undefined;
      if (apology !== undefined) {
        log.warn({ ageMs: this.now() - job.createdAt, attempts: job.attempts }, apology.why);
        runs.push(() =>
          this.replies.run(threadKey(thread), async () => {
            try {
              await clearStrays();
              return await this.records.failWith(job.id, message, makeSink(), apology.text, apology.failure, log);
            } finally {
              this.ownJobs.delete(job.id);
            }
          }),
        );
        continue;
      }
      await this.store.jobs.resumed(job.id, this.now());
      const reply = this.metrics.replyQueued(platform);
      runs.push(() =>
        this.replies.run(threadKey(thread), () =>
          reply.run(async () => {
            await clearStrays();
            return this.answering.answerSafely(job.id, conversation.id, message.id, () => reply.watch(makeSink()));
          }),
        ),
      );
    }
    await Promise.all(runs.map((run) => run()));
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
