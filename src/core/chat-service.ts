/**
 * The one entry point adapters call. It owns everything platform-independent about a
 * conversation: dedupe, self-skip, recording, backfill-once, the decision to answer, per-thread
 * order, building the request, the model call, and what is stored and shown afterwards.
 */
import type { Logger } from 'pino';
import { ThreadlineError, isThreadlineError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { Conversation, NewMessage, StoredMessage } from '../store/types.js';
import { AttachmentPipeline } from './attachment-pipeline.js';
import { toNewAttachment } from './attachments.js';
import { ConversationRequests } from './conversation-requests.js';
import { InstructionsService, type CommandReply, type InstructionsCommand } from './instructions.js';
import { KeyedQueue } from './keyed-queue.js';
import { RateLimiter } from './rate-limiter.js';
import { formatUsage } from './usage-report.js';
import type { ModelClient, ModelResult } from './model-client.js';
import { refusalMessage, toModelError, userMessageFor } from './model-errors.js';
import { modelRules, type ModelRules } from './models.js';
import { buildSystemPrompt, instructionsUpdateMessage, type EffectiveInstructions } from './system-prompt.js';
import type {
  AttachmentInput,
  ChatCore,
  HandleOutcome,
  InboundContext,
  InboundMessage,
  Platform,
  PlatformServices,
  PostedIds,
  ReplySink,
  ThreadRef,
  UsageCommand,
} from './types.js';

export interface ChatServiceOptions {
  readonly store: Store;
  readonly model: ModelClient;
  readonly logger: Logger;
  readonly modelId: string;
  readonly maxTokens: number;
  readonly contextBudgetTokens: number;
  readonly followUpWithoutMention: boolean;
  readonly limits?: { readonly userPerMinute: number; readonly channelPerMinute: number; readonly dailyTokenBudget: number };
  /** Unanswered mentions older than this at restart get an apology instead of an answer. */
  readonly pendingReplyMaxAgeMs?: number;
  /** Largest text attachment inlined for the model. */
  readonly textAttachmentMaxBytes?: number;
  readonly now?: () => number;
}

const CUT_NOTE = 'The answer was cut off because it reached the length limit.';
const DAY_MS = 24 * 60 * 60 * 1000;
const STALE_APOLOGY =
  "Sorry, I was restarted before I could answer this, and by now the answer may no longer be useful. Mention me again if you still need it.";
/**
 * Restarts that may take up one unanswered mention. A mention whose answer was under way at each
 * of them (a crash it causes, say) gets an apology instead, so it cannot keep the bot down.
 */
const MAX_RESUMES = 3;
const ABANDONED_APOLOGY =
  'Sorry, I could not answer this: I was restarted while answering it several times in a row. Please ask again, perhaps in other words.';
/** Requests rebuilt after the API could not download an image URL, at most. */
const IMAGE_FALLBACK_ATTEMPTS = 3;

export class ChatService implements ChatCore {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly rules: ModelRules;
  private readonly now: () => number;
  private readonly pipeline: AttachmentPipeline;
  private readonly platforms = new Map<Platform, PlatformServices>();
  /** Intake (recording, backfill) is serialized per thread separately from answering, so recording never waits for a model call. */
  private readonly intake = new KeyedQueue();
  /** Jobs this process has taken on, queued or answering: a resume must not take them a second time. */
  private readonly ownJobs = new Set<number>();
  private readonly requests: ConversationRequests;
  private readonly replies: KeyedQueue;
  private readonly instructions: InstructionsService;
  private readonly userLimiter: RateLimiter;
  private readonly channelLimiter: RateLimiter;

  constructor(private readonly options: ChatServiceOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.rules = modelRules(options.modelId);
    this.now = options.now ?? Date.now;
    this.pipeline = new AttachmentPipeline({
      store: this.store,
      model: options.model,
      logger: this.logger,
      now: this.now,
      ...(options.textAttachmentMaxBytes === undefined ? {} : { textAttachmentMaxBytes: options.textAttachmentMaxBytes }),
    });
    this.requests = new ConversationRequests({
      store: this.store,
      pipeline: this.pipeline,
      rules: this.rules,
      maxTokens: options.maxTokens,
      contextBudgetTokens: options.contextBudgetTokens,
      platformServices: (platform) => this.platforms.get(platform),
    });
    // Per-thread order only: how many model calls run at once is the model client's gate, so an
    // answer waiting for it already shows typing (sink.start) and waits its turn fairly.
    this.replies = new KeyedQueue();
    this.instructions = new InstructionsService(this.store, this.logger, this.now);
    this.userLimiter = new RateLimiter(options.limits?.userPerMinute ?? 0, this.now);
    this.channelLimiter = new RateLimiter(options.limits?.channelPerMinute ?? 0, this.now);
    if (!this.rules.known) {
      this.logger.warn({ model: options.modelId }, 'unknown model id: using the most conservative request rules');
    }
  }

  async handle(msg: InboundMessage, ctx: InboundContext): Promise<HandleOutcome> {
    if (msg.author.kind === 'self') {
      ctx.onAccepted?.();
      return { kind: 'ignored', reason: 'self' };
    }
    const intake = await this.intake.run(threadKey(msg.thread), () => this.intakeMessage(msg, ctx));
    ctx.onAccepted?.();
    if (intake.kind === 'limited') return this.refuseOverLimit(intake.messageId, intake.code, intake.retryAfterMs, ctx.sink);
    if (intake.kind !== 'job') return intake.outcome;
    this.ownJobs.add(intake.jobId);
    return this.replies.run(threadKey(msg.thread), () => this.answerSafely(intake.jobId, intake.conversationId, intake.messageId, ctx.sink));
  }

  recordEdit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): void {
    const conversation = this.store.conversations.find(thread);
    const message = conversation === undefined ? undefined : this.store.messages.find(conversation.id, messageId);
    if (message === undefined || message.deletedAt !== null || message.authorKind === 'self') return;
    this.store.messages.edit(message.id, text, this.now(), attachments?.map(toNewAttachment));
  }

  recordDelete(thread: ThreadRef, messageId: string): void {
    const conversation = this.store.conversations.find(thread);
    const message = conversation === undefined ? undefined : this.store.messages.find(conversation.id, messageId);
    if (message === undefined || message.deletedAt !== null) return;
    this.store.messages.softDelete(message.id, this.now());
  }

  recentThreads(platform: Platform, sinceMs: number): Array<{ thread: ThreadRef; lastMessageId: string }> {
    return this.store.conversations.recent(platform, sinceMs).flatMap(({ conversation, lastMessageId }) =>
      lastMessageId === null ? [] : [{ thread: refOf(conversation), lastMessageId }],
    );
  }

  ingest(msgs: readonly InboundMessage[]): void {
    this.store.transaction(() => {
      for (const msg of msgs) {
        const conversation = this.store.conversations.find(msg.thread);
        if (conversation === undefined) continue;
        this.store.messages.insert(this.toNewMessage(conversation.id, msg));
        this.store.conversations.touch(conversation.id, msg.createdAt);
      }
    });
  }

  async resumePending(platform: Platform): Promise<void> {
    const services = this.platforms.get(platform);
    // Events that arrived since this process started may already have jobs of their own here.
    const jobs = this.store.jobs.open().flatMap((job) => {
      if (this.ownJobs.has(job.id)) return [];
      const conversation = this.store.conversations.get(job.conversationId);
      const message = this.store.messages.get(job.messageId);
      return conversation?.platform === platform && message !== undefined ? [{ job, conversation, message }] : [];
    });
    if (jobs.length === 0) return;
    if (services?.replySink === undefined) {
      this.logger.warn({ platform, pending: jobs.length }, 'unanswered mentions from a previous run, but the adapter cannot answer them');
      return;
    }
    const maxAge = this.options.pendingReplyMaxAgeMs ?? 30 * 60_000;
    this.logger.info({ platform, pending: jobs.length }, 'answering mentions left from a previous run');
    for (const { job } of jobs) this.ownJobs.add(job.id);
    await Promise.all(
      jobs.map(({ job, conversation, message }) => {
        const thread = refOf(conversation);
        const makeSink = () => (services.replySink as NonNullable<PlatformServices['replySink']>)(thread, message.platformMessageId);
        if (message.deletedAt !== null) {
          this.store.jobs.finish(job.id, 'dropped', this.now());
          this.ownJobs.delete(job.id);
          return Promise.resolve();
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
          return this.replies.run(threadKey(thread), async () => {
            try {
              await clearStrays();
              return await this.failWith(job.id, message, makeSink(), apology.text, apology.failure, log);
            } finally {
              this.ownJobs.delete(job.id);
            }
          });
        }
        this.store.jobs.resumed(job.id, this.now());
        return this.replies.run(threadKey(thread), async () => {
          await clearStrays();
          return this.answerSafely(job.id, conversation.id, message.id, makeSink);
        });
      }),
    );
  }

  /** Removes what an interrupted answer left visible, so the fresh answer is the only one. */
  private async removeStrayReplies(services: PlatformServices, thread: ThreadRef, conversationId: number, messageId: string, log: Logger): Promise<void> {
    if (services.removeStrayReplies === undefined) return;
    const keep = new Set(this.store.messages.thread(conversationId).map((stored) => stored.platformMessageId));
    try {
      const removed = await services.removeStrayReplies(thread, messageId, keep);
      if (removed > 0) log.info({ removed }, 'removed a reply the previous run posted but never recorded');
    } catch (error) {
      log.warn({ err: error }, 'could not look for a reply the previous run may have posted');
    }
  }

  runUsageCommand(command: UsageCommand): CommandReply {
    if (!command.actor.isAdmin) {
      this.logger.warn({ platform: command.platform, user: command.actor.id }, 'refused /usage from a non-admin');
      return { ok: false, text: 'Only admins can see usage.' };
    }
    const since = this.now() - command.days * DAY_MS;
    return formatUsage(
      command,
      this.store.usage.report(command.platform, command.workspaceId, since, 'channel'),
      this.store.usage.report(command.platform, command.workspaceId, since, 'user'),
    );
  }

  forgetThread(thread: ThreadRef, actor: { readonly id: string; readonly isAdmin: boolean }): CommandReply {
    if (!actor.isAdmin) {
      this.logger.warn({ platform: thread.platform, user: actor.id }, 'refused /forget from a non-admin');
      return { ok: false, text: 'Only admins can make me forget a thread.' };
    }
    const conversation = this.store.conversations.find(thread);
    if (conversation === undefined) return { ok: true, text: 'I have nothing stored for this thread.' };
    this.store.forgetConversation(conversation.id);
    this.requests.forget(conversation.id);
    this.logger.info({ platform: thread.platform, thread: thread.threadKey, user: actor.id }, 'thread forgotten');
    return { ok: true, text: 'Done: I no longer remember anything said in this thread so far. Mention me to start over; I will not read back what came before.' };
  }

  /** Deletes stored conversation data older than `retentionDays`; returns what went. */
  prune(retentionDays: number) {
    const result = this.store.prune(this.now() - retentionDays * DAY_MS, this.now() - 7 * DAY_MS);
    if (result.messages + result.conversations > 0) this.logger.info(result, 'pruned data past the retention period');
    return result;
  }

  registerPlatform(platform: Platform, services: PlatformServices): void {
    this.platforms.set(platform, services);
  }

  runInstructionsCommand(command: InstructionsCommand): CommandReply {
    return this.instructions.run(command);
  }

  /** Waits for every queued intake and answer: for shutdown and tests. */
  async idle(): Promise<void> {
    await this.intake.idle();
    await this.replies.idle();
  }

  private async intakeMessage(
    msg: InboundMessage,
    ctx: InboundContext,
  ): Promise<
    | { kind: 'done'; outcome: HandleOutcome }
    | { kind: 'job'; jobId: number; conversationId: number; messageId: number }
    | { kind: 'limited'; messageId: number; code: 'rate_limited' | 'budget_exhausted'; retryAfterMs: number }
  > {
    let conversation = this.store.conversations.find(msg.thread);
    const addressed = msg.author.kind === 'user' && (msg.isDirect || msg.mentionsBot);
    const followUp = !addressed && msg.author.kind === 'user' && this.options.followUpWithoutMention && conversation !== undefined && this.isEngaged(conversation.id);
    const wantsAnswer = addressed || followUp;
    // Threads the bot takes no part in are not recorded at all.
    if (conversation === undefined && !wantsAnswer) return { kind: 'done', outcome: { kind: 'ignored', reason: 'not_participating' } };

    let history: readonly InboundMessage[] = [];
    if (conversation === undefined && ctx.fetchHistory !== undefined) {
      try {
        history = await ctx.fetchHistory();
      } catch (error) {
        // A thread whose history cannot be read is still answered, from what we have.
        this.logger.warn({ err: error, thread: msg.thread }, 'could not read thread history; answering without it');
      }
    }

    return this.store.transaction(() => {
      for (const key of msg.dedupeKeys ?? []) {
        if (!this.store.events.claim(key, this.now())) return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
      }
      const isNew = conversation === undefined;
      conversation ??= this.store.conversations.findOrCreate(msg.thread, this.now());
      if (isNew) {
        for (const earlier of history) this.store.messages.insert(this.toNewMessage(conversation.id, earlier));
        this.store.conversations.markBackfilled(conversation.id);
      }
      let rowId = this.store.messages.insert(this.toNewMessage(conversation.id, msg));
      if (rowId === undefined) {
        const existing = this.store.messages.find(conversation.id, msg.messageId);
        // Only the backfill that just ran may have stored it; anything else is a second delivery.
        if (!isNew || existing === undefined || this.store.jobs.forMessage(existing.id) !== undefined) {
          return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
        }
        rowId = existing.id;
      }
      this.store.conversations.touch(conversation.id, msg.createdAt);
      if (!wantsAnswer) return { kind: 'done', outcome: { kind: 'recorded' } } as const;
      const limit = this.checkLimits(msg);
      if (limit !== undefined) return { kind: 'limited', messageId: rowId, ...limit } as const;
      const jobId = this.store.jobs.create(rowId, conversation.id, this.now());
      if (jobId === undefined) return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
      return { kind: 'job', jobId, conversationId: conversation.id, messageId: rowId } as const;
    });
  }

  /**
   * Whether the bot takes part in this thread's conversation: it has answered here, or it has
   * been asked and its answer is still to come (streaming now, or owed from before a restart).
   * A follow-up written while the first answer streams is part of the conversation too.
   */
  private isEngaged(conversationId: number): boolean {
    if (this.store.messages.hasAssistantTurn(conversationId)) return true;
    // Only until the first answer is stored; the question is usually among the newest messages.
    const rows = this.store.messages.thread(conversationId);
    for (let i = rows.length - 1; i >= 0; i -= 1) {
      const row = rows[i] as StoredMessage;
      if (row.role === 'user' && this.store.jobs.forMessage(row.id) !== undefined) return true;
    }
    return false;
  }

  /** A bug or a database failure must not leave the user in silence or the job forever running. */
  private async answerSafely(jobId: number, conversationId: number, messageId: number, makeSink: () => ReplySink): Promise<HandleOutcome> {
    let sink: ReplySink | undefined;
    const lazySink = () => (sink ??= makeSink());
    try {
      return await this.answer(jobId, conversationId, messageId, lazySink);
    } catch (error) {
      this.logger.error({ err: error, jobId }, 'unexpected failure while answering');
      let postedIds: PostedIds = [];
      try {
        if (sink !== undefined) postedIds = await sink.fail('Something went wrong on my side while answering. Please try again.', 'platform_post_failed');
        this.store.jobs.finish(jobId, 'failed', this.now());
      } catch {
        // The database or the platform itself may be what failed; the job is retried at the next start.
      }
      return { kind: 'failed', code: 'platform_post_failed', postedIds };
    } finally {
      this.ownJobs.delete(jobId);
    }
  }

  private async answer(jobId: number, conversationId: number, messageId: number, makeSink: () => ReplySink): Promise<HandleOutcome> {
    const message = this.store.messages.live(conversationId, messageId);
    if (message === undefined) {
      this.store.jobs.finish(jobId, 'dropped', this.now());
      return { kind: 'ignored', reason: 'deleted' };
    }
    const conversation = this.store.conversations.get(conversationId) as Conversation;
    const log = this.logger.child({ thread: conversation.threadKey, platform: conversation.platform, message: message.platformMessageId });
    const sink = makeSink();
    try {
      await sink.start();
    } catch (error) {
      log.warn({ err: error }, 'could not show progress; answering anyway');
    }

    let result: ModelResult;
    let userNotes: readonly string[] = [];
    try {
      const system = this.prepareSystem(conversation, message);
      let shrunk = false;
      for (let attempt = 1; ; attempt += 1) {
        const next = await this.requests.next(conversation, message.id, system, log);
        userNotes = next.userNotes;
        const { assembled } = next;
        try {
          result = await this.options.model.complete(assembled.request, (text) => sink.progress?.(text), sink.signal, threadKey(refOf(conversation)));
          this.requests.observe(conversation.id, assembled, result.usage);
          break;
        } catch (error) {
          const failure = toModelError(error);
          if (!shrunk && this.requests.shrinkAfterTooLong(failure, conversation.id, assembled, log)) {
            shrunk = true;
            continue;
          }
          const unreachable = attempt < IMAGE_FALLBACK_ATTEMPTS ? this.requests.unreachableImage(failure, assembled.request, conversation.id) : undefined;
          if (unreachable === undefined) throw error;
          log.warn({ attachment: unreachable.name }, 'the API could not download an image URL; replacing it');
          await this.pipeline.replaceUnreachable(this.platforms.get(conversation.platform), unreachable);
        }
      }
    } catch (error) {
      if (sink.signal?.aborted === true) {
        // The user pressed stop: what they saw is what they wanted; nothing to add or store.
        log.info('answer stopped by the user');
        this.store.jobs.finish(jobId, 'done', this.now());
        return { kind: 'failed', code: 'stopped_by_user', postedIds: [] };
      }
      const failure = toModelError(error);
      log.error({ err: failure.cause ?? failure, code: failure.code, requestId: failure.requestId }, `model call failed: ${failure.message}`);
      return this.failWith(jobId, message, sink, userMessageFor(failure, this.rules.id), failure, log);
    }

    // Tokens were spent whatever happens next; on success this joins the answer's one commit.
    const recordUsage = () => this.recordUsage(conversation, message, result);
    if (result.stopReason === 'refusal') {
      recordUsage();
      log.info({ requestId: result.requestId, category: result.refusal?.category }, 'model refused');
      return this.failWith(jobId, message, sink, refusalMessage(result.refusal), new ThreadlineError('model_refused', 'refused'), log);
    }
    if (result.text.trim() === '') {
      recordUsage();
      log.warn({ requestId: result.requestId, stopReason: result.stopReason }, 'model returned no text');
      return this.failWith(jobId, message, sink, 'Claude returned an empty answer. Please rephrase and try again.', new ThreadlineError('model_unavailable', 'empty answer'), log);
    }

    const notes = [...userNotes, ...(result.stopReason === 'max_tokens' ? [CUT_NOTE] : [])];
    const note = notes.length === 0 ? undefined : notes.join('\n');
    let posted: PostedIds;
    try {
      posted = await sink.finish({ text: result.text, ...(note === undefined ? {} : { note }) });
    } catch (error) {
      log.error({ err: error, code: isThreadlineError(error) ? error.code : 'platform_post_failed' }, 'could not post the answer');
      this.store.transaction(() => {
        recordUsage();
        this.store.jobs.finish(jobId, 'failed', this.now());
      });
      return { kind: 'failed', code: 'platform_post_failed', postedIds: [] };
    }
    // One commit for the answer, its usage and its job.
    this.store.transaction(() => {
      this.storeReply(conversation.id, message, result.text, posted);
      recordUsage();
      this.store.jobs.finish(jobId, 'done', this.now());
    });
    return { kind: 'answered', postedIds: posted };
  }

  /** `undefined` when the message may be answered now. */
  private checkLimits(msg: InboundMessage): { code: 'rate_limited' | 'budget_exhausted'; retryAfterMs: number } | undefined {
    const budget = this.options.limits?.dailyTokenBudget ?? 0;
    if (budget > 0) {
      const dayStart = Math.floor(this.now() / DAY_MS) * DAY_MS;
      if (this.store.usage.totalSince(msg.thread.platform, msg.thread.workspaceId, dayStart) >= budget) {
        return { code: 'budget_exhausted', retryAfterMs: dayStart + DAY_MS - this.now() };
      }
    }
    const userKey = `${msg.thread.platform}:${msg.thread.workspaceId}:${msg.author.id}`;
    const userWait = this.userLimiter.take(userKey);
    if (userWait > 0) return { code: 'rate_limited', retryAfterMs: userWait };
    const channelWait = this.channelLimiter.take(`${msg.thread.platform}:${msg.thread.workspaceId}:${msg.thread.channelId}`);
    if (channelWait > 0) {
      this.userLimiter.refund(userKey);
      return { code: 'rate_limited', retryAfterMs: channelWait };
    }
    return undefined;
  }

  private async refuseOverLimit(messageId: number, code: 'rate_limited' | 'budget_exhausted', retryAfterMs: number, makeSink: () => ReplySink): Promise<HandleOutcome> {
    const message = this.store.messages.get(messageId) as StoredMessage;
    const wait = humanDuration(retryAfterMs);
    const text =
      code === 'budget_exhausted'
        ? `This ${this.store.conversations.get(message.conversationId)?.platform === 'discord' ? 'server' : 'workspace'} has used today's Claude budget. It resets at midnight UTC, in ${wait}.`
        : `You're asking faster than I can keep up with. Please try again in ${wait}.`;
    this.logger.info({ code, user: message.authorId, retryAfterMs }, 'over a limit; not answering');
    let posted: PostedIds = [];
    try {
      posted = await makeSink().fail(text, code);
      this.storeReply(message.conversationId, message, '', posted);
    } catch (error) {
      this.logger.error({ err: error }, 'could not tell the user about the limit');
    }
    return { kind: 'limited', code, retryAfterMs, postedIds: posted };
  }

  private async failWith(
    jobId: number,
    message: StoredMessage,
    sink: ReplySink,
    userText: string,
    failure: ThreadlineError,
    log: Logger,
  ): Promise<HandleOutcome> {
    let posted: PostedIds = [];
    try {
      posted = await sink.fail(userText, failure.code);
      // Recorded with no text, so a later history read does not bring the apology back as an answer.
      this.storeReply(message.conversationId, message, '', posted);
    } catch (error) {
      log.error({ err: error }, 'could not tell the user about the failure');
    }
    this.store.jobs.finish(jobId, 'failed', this.now());
    return { kind: 'failed', code: failure.code, postedIds: posted };
  }

  private storeReply(conversationId: number, answering: StoredMessage, text: string, posted: PostedIds): void {
    const [first, ...rest] = posted;
    if (first === undefined) return;
    const at = this.now();
    this.store.transaction(() => {
      const base = {
        conversationId,
        authorId: 'self',
        authorName: 'threadline',
        authorKind: 'self',
        role: 'assistant',
        createdAt: at,
        replyToMessageId: answering.id,
      } as const;
      const firstId = this.store.messages.insert({ ...base, platformMessageId: first, text });
      for (const id of rest) this.store.messages.insert({ ...base, platformMessageId: id, text: '', replyPartOf: firstId ?? null });
      this.store.conversations.touch(conversationId, at);
    });
  }

  /**
   * The top-level system prompt for this request. On models that accept mid-conversation system
   * messages, a thread that already has answers keeps its first prompt byte for byte and gets
   * changed instructions as a system message after the turn being answered; elsewhere the
   * prompt is rebuilt.
   */
  private prepareSystem(conversation: Conversation, answering: StoredMessage): string {
    const instructions = this.effectiveInstructions(conversation);
    const current = buildSystemPrompt(conversation.platform, instructions);
    if (conversation.systemPrompt === null || !this.rules.midConversationSystem || !this.store.messages.hasAssistantTurn(conversation.id)) {
      if (conversation.systemPrompt !== current || conversation.instructionsRev !== instructions.rev) {
        this.store.conversations.setSystemPrompt(conversation.id, current, instructions.rev);
      }
      return current;
    }
    if (conversation.instructionsRev !== instructions.rev) {
      this.store.transaction(() => {
        this.store.messages.insert({
          conversationId: conversation.id,
          platformMessageId: `system:${instructions.rev}:${answering.id}`,
          authorId: 'system',
          authorName: 'system',
          authorKind: 'system',
          role: 'system',
          text: instructionsUpdateMessage(instructions),
          createdAt: answering.createdAt,
          replyToMessageId: answering.id,
        });
        this.store.conversations.setSystemPrompt(conversation.id, conversation.systemPrompt, instructions.rev);
      });
    }
    return conversation.systemPrompt;
  }

  private effectiveInstructions(conversation: Conversation): EffectiveInstructions {
    const workspace = this.store.instructions.current(conversation.platform, conversation.workspaceId, '');
    const channel = this.store.instructions.current(conversation.platform, conversation.workspaceId, conversation.channelId);
    return {
      workspace: workspace?.text ?? null,
      channel: channel?.text ?? null,
      rev: Math.max(workspace?.id ?? 0, channel?.id ?? 0),
    };
  }

  private recordUsage(conversation: Conversation, message: StoredMessage, result: ModelResult): void {
    this.store.usage.record({
      conversationId: conversation.id,
      platform: conversation.platform,
      workspaceId: conversation.workspaceId,
      channelId: conversation.channelId,
      userId: message.authorId,
      model: this.rules.id,
      requestId: result.requestId,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
      cacheReadTokens: result.usage.cacheReadTokens,
      cacheCreationTokens: result.usage.cacheCreationTokens,
      stopReason: result.stopReason,
      createdAt: this.now(),
    });
  }

  private toNewMessage(conversationId: number, msg: InboundMessage): NewMessage {
    const self = msg.author.kind === 'self';
    return {
      conversationId,
      platformMessageId: msg.messageId,
      authorId: msg.author.id,
      authorName: msg.author.name,
      authorKind: msg.author.kind,
      role: self ? 'assistant' : 'user',
      text: msg.text,
      createdAt: msg.createdAt,
      attachments: self ? [] : msg.attachments.map(toNewAttachment),
    };
  }
}

function humanDuration(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `${minutes} minutes`;
  return `${Math.round(minutes / 60)} hours`;
}

function threadKey(thread: ThreadRef): string {
  return `${thread.platform}:${thread.workspaceId}:${thread.threadKey}`;
}

function refOf(conversation: Conversation): ThreadRef {
  return { platform: conversation.platform, workspaceId: conversation.workspaceId, channelId: conversation.channelId, threadKey: conversation.threadKey };
}
