/**
 * Intake: a message, edit or delete recorded in its thread, in order, and the decision whether a
 * message is answered (engagement, `/settings`, limits). Answering is another part's job; intake
 * hands it a job, or a refusal or over-limit reply to post.
 */
import { isThreadlineError, ThreadlineError } from '../../errors.js';
import type { Store } from '../../store/index.js';
import { NOT_NEW } from '../../store/rate-limits.js';
import type { CachedReads, ReadAhead } from '../../store/read-ahead.js';
import type { Conversation, StoredMessage } from '../../store/types.js';
import { BackfilledMessages } from '../intake/backfilled.js';
import { MessageChanges } from '../intake/message-changes.js';
import { toNewMessage } from '../intake/new-message.js';
import { SettingsRefusals } from '../intake/refusals.js';
import { KeyedQueue } from '../keyed-queue.js';
import type { AnswerRefusal } from '../settings/access.js';
import type { AttachmentInput, HandleOutcome, InboundContext, InboundMessage, ThreadRef } from '../types.js';
import { ChatPart, type ChatContext } from './context.js';
import type { JobAhead, JobLeases } from './job-leases.js';
import type { Limits } from './limits.js';
import { threadKey } from './thread-refs.js';

export type IntakeResult =
  | { kind: 'done'; outcome: HandleOutcome }
  /**
   * `owned`: this replica holds the job and answers it now; otherwise it waits for the thread's turn.
   * `synced`: nothing was waited for since intake's cache barrier (no thread history was fetched),
   * so an answer that starts at once may count that barrier as its own.
   * `committed`: intake's COMMIT, still on its way (PostgreSQL, see Intake.record): the answer
   * builds its request meanwhile and waits for it before calling the model.
   */
  | { kind: 'job'; jobId: number; conversationId: number; messageId: number; owned: boolean; synced: boolean; committed?: Promise<void> }
  | { kind: 'limited'; messageId: number; code: 'rate_limited' | 'budget_exhausted'; retryAfterMs: number }
  | { kind: 'refused'; refusal: AnswerRefusal };

/** What intake decided before its transaction, for the transaction. */
interface RecordPlan {
  readonly known: Conversation | undefined;
  readonly history: readonly InboundMessage[];
  readonly wantsAnswer: boolean;
  /** A platform call since the barrier: an answer then passes a barrier of its own. */
  readonly fetchesHistory: boolean;
  readonly reads: ReadAhead;
  readonly read: CachedReads;
  /**
   * PostgreSQL, a thread known here, on the first try: the event's claims, the row, the limits'
   * count and the job leave together, a round trip each less, before it is known that the event
   * and the message are new. The count takes only for a row the transaction inserted; the job is
   * withdrawn before COMMIT unless the message is answered; an event claimed before is a duplicate
   * (or, carrying a new message, rolls back and runs again in order: `intake_redo`). And the
   * answer starts with COMMIT on its way (`IntakeResult.committed`).
   */
  readonly ahead: boolean;
}

export class Intake extends ChatPart {
  /** Intake (recording, backfill) is serialized per thread separately from answering, so recording never waits for a model call. */
  private readonly queue = new KeyedQueue();
  /** Edits and deletes, run on `queue` so they land in order with the creates they change. */
  private readonly changes: MessageChanges;
  private readonly backfilled: BackfilledMessages;
  /** Messages `/settings` does not let the bot answer. */
  readonly refusals: SettingsRefusals;

  constructor(
    context: ChatContext,
    private readonly limits: Limits,
    private readonly leases: JobLeases,
  ) {
    super(context);
    this.changes = new MessageChanges(this.store, this.now, this.logger, (thread, change) => this.queue.run(threadKey(thread), change));
    this.backfilled = new BackfilledMessages(this.now);
    this.refusals = new SettingsRefusals(this.store, this.settings, this.now, this.logger);
  }

  /**
   * Records `msg` on its thread's intake queue: what `handle` does next. A job comes back as soon
   * as its COMMIT is sent; the thread's next event, and the platform's `onAccepted`, wait for the
   * COMMIT itself.
   */
  record(msg: InboundMessage, ctx: InboundContext): Promise<IntakeResult> {
    return new Promise((resolve, reject) => {
      this.queue
        .run(threadKey(msg.thread), async () => {
          const result = await this.intakeMessage(msg, ctx);
          const committed = result.kind === 'job' ? result.committed : undefined;
          if (committed === undefined) ctx.onAccepted?.();
          else committed.then(() => ctx.onAccepted?.()).catch(() => undefined);
          resolve(result);
          await committed;
        })
        .catch(reject);
    });
  }

  /** Waits for every queued intake. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  recordEdit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): Promise<void> {
    return this.queue.run(threadKey(thread), async () => {
      await this.store.syncCaches();
      await this.changes.edit(thread, messageId, text, attachments);
    });
  }

  recordDelete(thread: ThreadRef, messageId: string): Promise<void> {
    return this.queue.run(threadKey(thread), async () => {
      await this.store.syncCaches();
      await this.changes.delete(thread, messageId);
    });
  }

  async ingest(msgs: readonly InboundMessage[]): Promise<void> {
    await this.store.syncCaches();
    await this.store.transaction(async (tx) => {
      for (const msg of msgs) {
        const conversation = await tx.conversations.find(msg.thread);
        if (conversation === undefined) continue;
        await tx.messages.insert(toNewMessage(conversation.id, msg));
        await tx.conversations.touch(conversation.id, msg.createdAt);
      }
    });
  }

  /**
   * Replicas: a thread another one started, or a message it recorded, is known here too. The
   * cache barrier's round trip overlaps the first statements (`optimistic`): what was read from
   * the caches is checked against what the barrier brought in before anything is fetched or
   * committed, and if another replica had changed it the intake starts over behind the barrier.
   */
  private async intakeMessage(msg: InboundMessage, ctx: InboundContext, optimistic = true): Promise<IntakeResult> {
    const reads = optimistic ? this.store.readAhead() : await this.store.readAfterSync();
    const again = () => this.intakeMessage(msg, ctx, false);
    const conversation = await this.store.conversations.find(msg.thread);
    // A thread not known here is checked at once: what follows fetches its history from the platform.
    if (conversation === undefined && !(await reads.current({ thread: msg.thread }))) return again();
    if (conversation === undefined && this.changes.takeDeletedEarly(msg.thread, msg.messageId)) return { kind: 'done', outcome: { kind: 'ignored', reason: 'deleted' } };
    const addressed = msg.author.kind === 'user' && (msg.isDirect || msg.mentionsBot);
    const engagedAsked = !addressed && msg.author.kind === 'user' && this.options.followUpWithoutMention && conversation !== undefined;
    const followUp = engagedAsked && (await this.isEngaged(conversation.id));
    const wantsAnswer = addressed || followUp;
    const refusal = wantsAnswer ? await this.refusals.refusalFor(msg) : undefined;
    const read: CachedReads = {
      thread: msg.thread,
      conversationId: conversation?.id,
      messagesOf: engagedAsked ? conversation.id : undefined,
      settingsOf: wantsAnswer ? msg.thread : undefined,
    };
    if (refusal !== undefined) return (await reads.current(read)) ? this.refusals.record(msg, conversation, addressed, refusal) : again();
    // Threads the bot takes no part in are not recorded at all.
    if (conversation === undefined && !wantsAnswer) return { kind: 'done', outcome: { kind: 'ignored', reason: 'not_participating' } };

    let history: readonly InboundMessage[] = [];
    // A platform call since the barrier: an answer then passes a barrier of its own.
    const fetchesHistory = conversation === undefined && ctx.fetchHistory !== undefined;
    if (fetchesHistory) {
      try {
        history = await ctx.fetchHistory();
      } catch (error) {
        // A thread whose history cannot be read is still answered, from what we have.
        this.logger.warn({ err: error, thread: msg.thread }, 'could not read thread history; answering without it');
      }
    }

    const ahead = optimistic && this.store.backend === 'postgres' && conversation !== undefined;
    const plan: RecordPlan = { known: conversation, history, wantsAnswer, fetchesHistory, reads, read, ahead };
    try {
      // The barrier, unless something sent it already, leaves in the transaction's first write.
      const before = reads.takeBarrier();
      const options = before === undefined ? {} : { before };
      if (!ahead) return await this.store.transaction((tx) => this.recordInTransaction(tx, msg, plan), options);
      // Ahead, the answer need not wait for COMMIT's round trip: it builds its request meanwhile.
      const { result, committed } = await this.store.transactionCommittedLater((tx) => this.recordInTransaction(tx, msg, plan), options);
      if (result.kind === 'job') return { ...result, committed };
      await committed;
      return result;
    } catch (error) {
      // Went ahead and was wrong (or a statement failed for reads that turned out stale): in order, behind the barrier.
      if ((isThreadlineError(error) && error.code === 'intake_redo') || (optimistic && !(await reads.current(read)))) return again();
      throw error;
    }
  }

  private async recordInTransaction(tx: Store, msg: InboundMessage, plan: RecordPlan): Promise<IntakeResult> {
    const sentAhead: { job?: JobAhead } = {};
    const result = await this.recordAndDecide(tx, msg, plan, sentAhead);
    // A job sent ahead for a message that is not answered after all goes again, before COMMIT.
    if (sentAhead.job !== undefined && result.kind !== 'job') await sentAhead.job.withdraw();
    return result;
  }

  private async recordAndDecide(tx: Store, msg: InboundMessage, plan: RecordPlan, sentAhead: { job?: JobAhead }): Promise<IntakeResult> {
    const { known, history, wantsAnswer, fetchesHistory, reads, read, ahead } = plan;
    const keys = msg.dedupeKeys ?? [];
    // Ahead: the event's claims leave with the row (see RecordPlan.ahead); one already claimed undoes it below.
    const claimed = ahead && keys.length > 0 ? Promise.all(keys.map((key) => tx.events.claim(key, this.now()))) : undefined;
    claimed?.catch(() => undefined);
    if (claimed === undefined) {
      for (const key of keys) {
        if (!(await tx.events.claim(key, this.now()))) return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } };
      }
    }
    const conversation = known ?? (await tx.conversations.findOrCreate(msg.thread, this.now()));
    if (known === undefined) {
      for (const earlier of history) {
        if ((await tx.messages.insert(toNewMessage(conversation.id, earlier))) !== undefined) await this.backfilled.add(tx, conversation.id, earlier, msg.createdAt);
      }
      await tx.conversations.markBackfilled(conversation.id);
    }
    const inserted = tx.messages.insert(toNewMessage(conversation.id, msg));
    // Ahead: the limits' count leaves with the row, counted only if the row is new (a second
    // delivery counts nothing). A message deleted before it came is never counted.
    const answerAhead = ahead && wantsAnswer && !this.changes.deletedEarly(msg.thread, msg.messageId);
    const limitsChecked = answerAhead ? this.limits.checkLimits(tx, msg, { conversationId: conversation.id, platformMessageId: msg.messageId }) : undefined;
    limitsChecked?.catch(() => undefined);
    // And the job (withdrawn by recordInTransaction unless the message is answered after all).
    if (answerAhead) sentAhead.job = this.leases.createJobAhead(tx, conversation.id, msg.messageId);
    let rowId = await inserted;
    // The barrier has come back meanwhile: nothing below is decided on a stale read (and nothing is committed yet).
    if (!(await reads.current(read))) throw new ThreadlineError('intake_redo', 'another replica changed what intake read from the caches');
    if (claimed !== undefined && !(await claimed).every(Boolean)) {
      if (rowId === undefined) return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } };
      throw new ThreadlineError('intake_redo', 'a new message under an event delivered before');
    }
    if (rowId === undefined) {
      const existing = await tx.messages.find(conversation.id, msg.messageId);
      // Only a history read (this one, or one this create waited behind) may have stored it; anything else is a second delivery.
      const firstDelivery = await this.backfilled.take(tx, conversation.id, msg.messageId);
      const existingJob = existing === undefined ? undefined : await tx.jobs.forMessage(existing.id);
      // The job sent ahead is no earlier job of the message.
      if (!firstDelivery || existing === undefined || (existingJob !== undefined && existingJob.id !== (await sentAhead.job?.id))) {
        return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } };
      }
      rowId = existing.id;
    }
    await tx.conversations.touch(conversation.id, msg.createdAt);
    // A delete that came first: recorded as deleted, never answered. An edit: its text stands.
    if ((await this.changes.applyEarly(tx, msg.thread, msg.messageId, rowId))?.kind === 'deleted') return { kind: 'done', outcome: { kind: 'ignored', reason: 'deleted' } };
    if (!wantsAnswer) return { kind: 'done', outcome: { kind: 'recorded' } };
    // Counted ahead, unless the row was not new (a history read stored it; this is its first delivery): then counted now.
    const counted = limitsChecked === undefined ? NOT_NEW : await limitsChecked;
    const limit = counted === NOT_NEW ? await this.limits.checkLimits(tx, msg) : counted;
    if (limit !== undefined) return { kind: 'limited', messageId: rowId, ...limit };
    // The transaction's last statement: COMMIT goes with it (or the job went ahead with the row).
    const job = sentAhead.job !== undefined ? await sentAhead.job.keep() : await this.leases.createJob(tx, rowId, conversation.id);
    if (job === undefined) return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } };
    return { kind: 'job', jobId: job.id, conversationId: conversation.id, messageId: rowId, owned: job.owned, synced: !fetchesHistory };
  }

  /**
   * Whether the bot takes part in this thread's conversation: it has answered here, or it has
   * been asked and its answer is still to come (streaming now, or owed from before a restart).
   * A follow-up written while the first answer streams is part of the conversation too.
   */
  private async isEngaged(conversationId: number): Promise<boolean> {
    if (await this.store.messages.hasAssistantTurn(conversationId)) return true;
    // Only until the first answer is stored; the question is usually among the newest messages.
    const rows = await this.store.messages.thread(conversationId);
    for (let i = rows.length - 1; i >= 0; i -= 1) {
      const row = rows[i] as StoredMessage;
      if (row.role === 'user' && (await this.store.jobs.forMessage(row.id)) !== undefined) return true;
    }
    return false;
  }

}
