/**
 * The one entry point adapters call. It owns everything platform-independent about a
 * conversation: dedupe, self-skip, recording, backfill-once, the decision to answer, per-thread
 * order, building the request, the model call, and what is stored and shown afterwards.
 */
import type { Logger } from 'pino';
import { ThreadlineError, isThreadlineError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { Conversation, NewMessage, StoredMessage } from '../store/types.js';
import { AnswerControls } from './answer-controls/answer-controls.js';
import { replaceStoredAnswer } from './answer-controls/replace-answer.js';
import { answerNotes, type ThinkingSetting, withThinking } from './answer-controls/thinking.js';
import { AssistantPanel, type SuggestedPromptsSource, type ViewedChannel } from './assistant-panel.js';
import { AttachmentPipeline } from './attachment-pipeline.js';
import { toNewAttachment } from './attachments.js';
import { ConversationRequests } from './conversation-requests.js';
import { InstructionsService, type CommandReply, type InstructionsCommand } from './instructions.js';
import { BackfilledMessages } from './intake/backfilled.js';
import { MessageChanges } from './intake/message-changes.js';
import { KeyedQueue } from './keyed-queue.js';
import { Metrics } from './metrics.js';
import { RateLimiter } from './rate-limiter.js';
import { StoredThreadReader } from './thread-reader.js';
import { formatUsage } from './usage-report.js';
import { STOPPED_BY_USER, type ModelClient } from './model-client.js';
import type { StoredAnswer } from '../store/answers.js';
import { refusalMessage, toModelError, userMessageFor } from './model-errors.js';
import { modelRules, type ModelRules } from './models.js';
import { ANSWERS_OFF_TEXT, answerRefusal, type AnswerRefusal } from './settings/access.js';
import { ModelCatalog } from './settings/model-catalog.js';
import type { EffectiveSettings } from './settings/resolve.js';
import { SettingsService, type SettingsCommand } from './settings/service.js';
import { buildSystemPrompt, instructionsUpdateMessage, type EffectiveInstructions } from './system-prompt.js';
import { WebTools, completeTurn, turnOutcome, type TurnResult, type WebToolLimits } from './web-tools/index.js';
import type {
  AttachmentInput,
  ChatCore,
  ControlPress,
  ControlReply,
  HandleOutcome,
  InboundContext,
  InboundMessage,
  Platform,
  PlatformServices,
  PostedIds,
  ReplySink,
  ThreadEntry,
  ThreadReader,
  ThreadRef,
  ThreadSummary,
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
  /** Model calls in flight at once, across all threads. */
  readonly concurrency?: number;
  readonly limits?: { readonly userPerMinute: number; readonly channelPerMinute: number; readonly dailyTokenBudget: number };
  /** Unanswered mentions older than this at restart get an apology instead of an answer. */
  readonly pendingReplyMaxAgeMs?: number;
  /** Largest text attachment inlined for the model. */
  readonly textAttachmentMaxBytes?: number;
  /** Defaults of the `web_search` / `web_fetch` settings (WEB_SEARCH, WEB_FETCH). */
  readonly webSearch?: boolean;
  readonly webFetch?: boolean;
  /** THINKING: `off`, or the effort level sent to models with adaptive thinking. */
  readonly thinking?: ThinkingSetting;
  /** Suggested prompts of a new Slack assistant thread (default: a built-in set). */
  readonly suggestedPrompts?: SuggestedPromptsSource;
  /** Uses of each web tool one answer may make (`max_uses`). */
  readonly webToolLimits?: WebToolLimits;
  /** Web searches per server/workspace per UTC day (0: no budget). */
  readonly dailySearchBudget?: number;
  readonly now?: () => number;
  /** Where replies, latencies and errors are counted (`GET /metrics`); a private registry when absent. */
  readonly metrics?: Metrics;
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

export class ChatService implements ChatCore, ThreadReader {
  private readonly store: Store;
  private readonly logger: Logger;
  /** Model ids already warned about as unknown to the rules table. */
  private readonly warnedModels = new Set<string>();
  private readonly now: () => number;
  private readonly pipeline: AttachmentPipeline;
  private readonly platforms = new Map<Platform, PlatformServices>();
  /** Intake (recording, backfill) is serialized per thread separately from answering, so recording never waits for a model call. */
  private readonly intake = new KeyedQueue();
  /** Edits and deletes, run on `intake` so they land in order with the creates they change. */
  private readonly changes: MessageChanges;
  private readonly backfilled = new BackfilledMessages();
  /** Jobs this process has taken on, queued or answering: a resume must not take them a second time. */
  private readonly ownJobs = new Set<number>();
  private readonly requests: ConversationRequests;
  private readonly replies: KeyedQueue;
  private readonly instructions: InstructionsService;
  private readonly userLimiter: RateLimiter;
  private readonly channelLimiter: RateLimiter;
  /** `/settings` and the effective settings of a channel: `settings.effective(platform, workspaceId, channelId)`. */
  readonly settings: SettingsService;
  private readonly controls: AnswerControls;
  private readonly panel: AssistantPanel;
  private readonly metrics: Metrics;
  private readonly reader: StoredThreadReader;
  private readonly webTools: WebTools;

  constructor(private readonly options: ChatServiceOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.changes = new MessageChanges(this.store, this.now);
    this.metrics = options.metrics ?? new Metrics();
    this.reader = new StoredThreadReader(this.store);
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
      rules: modelRules(options.modelId),
      maxTokens: options.maxTokens,
      contextBudgetTokens: options.contextBudgetTokens,
      platformServices: (platform) => this.platforms.get(platform),
    });
    this.replies = new KeyedQueue(options.concurrency ?? 8);
    this.instructions = new InstructionsService(this.store, this.logger, this.now);
    this.userLimiter = new RateLimiter(options.limits?.userPerMinute ?? 0, this.now);
    this.channelLimiter = new RateLimiter(options.limits?.channelPerMinute ?? 0, this.now);
    this.settings = new SettingsService({
      store: this.store,
      catalog: new ModelCatalog(options.model, this.logger, this.now),
      defaults: { model: options.modelId, webSearch: options.webSearch ?? false, webFetch: options.webFetch ?? true },
      logger: this.logger,
      now: this.now,
    });
    this.rulesFor(options.modelId);
    this.webTools = new WebTools({
      // The `web_search` / `web_fetch` settings of the conversation's channel, asked per reply.
      switches: (thread) => {
        const effective = this.settings.effective(thread.platform, thread.workspaceId, thread.channelId);
        return { webSearch: effective.webSearch.value, webFetch: effective.webFetch.value };
      },
      ...(options.webToolLimits === undefined ? {} : { limits: options.webToolLimits }),
      ...(options.dailySearchBudget === undefined ? {} : { dailySearchBudget: options.dailySearchBudget }),
      searchesSince: (platform, workspaceId, since) => this.store.usage.searchesSince(platform, workspaceId, since),
      now: this.now,
    });
    // `/settings set prompts` where an admin set them, the built-in set otherwise.
    this.panel = new AssistantPanel(
      this.store,
      this.now,
      options.suggestedPrompts ?? ((thread) => this.settings.effective(thread.platform, thread.workspaceId, thread.channelId).prompts.value),
    );
    this.controls = new AnswerControls({
      store: this.store,
      logger: this.logger,
      now: this.now,
      regenerate: (conversation, question, answer) => this.regenerate(conversation, question, answer),
      answersRefused: (conversation) =>
        this.settings.effective(conversation.platform, conversation.workspaceId, conversation.channelId).answers.value ? undefined : ANSWERS_OFF_TEXT,
    });
  }

  pressControl(press: ControlPress): ControlReply {
    return this.controls.press(press);
  }

  assistantThreadStarted(thread: ThreadRef, viewing: ViewedChannel | null) {
    return this.panel.started(thread, viewing);
  }

  assistantContextChanged(thread: ThreadRef, viewing: ViewedChannel | null): void {
    this.panel.contextChanged(thread, viewing);
  }

  assistantTitle(thread: ThreadRef, question: string): string | undefined {
    return this.panel.titleFor(thread, question);
  }

  /** Regenerate: the question answered again, into the old answer's messages, through the thread's queue. */
  private async regenerate(conversation: Conversation, question: StoredMessage, answer: StoredAnswer): Promise<void> {
    const services = this.platforms.get(conversation.platform);
    if (services?.replaceSink === undefined) return;
    const makeSink = () => (services.replaceSink as NonNullable<PlatformServices['replaceSink']>)(refOf(conversation), question.platformMessageId, answer.platformMessageIds);
    await this.replies.run(threadKey(refOf(conversation)), () => this.answerSafely(null, conversation.id, question.id, makeSink, answer));
  }

  async handle(msg: InboundMessage, ctx: InboundContext): Promise<HandleOutcome> {
    if (msg.author.kind === 'self') {
      ctx.onAccepted?.();
      return { kind: 'ignored', reason: 'self' };
    }
    const intake = await this.intake.run(threadKey(msg.thread), () => this.intakeMessage(msg, ctx));
    ctx.onAccepted?.();
    if (intake.kind === 'refused') {
      return this.metrics.replyQueued(msg.thread.platform).run(() => this.postRefusal(intake.refusal, ctx.sink));
    }
    if (intake.kind === 'limited') {
      return this.metrics.replyQueued(msg.thread.platform).run(() => this.refuseOverLimit(intake.messageId, intake.code, intake.retryAfterMs, ctx.sink));
    }
    if (intake.kind !== 'job') return intake.outcome;
    this.ownJobs.add(intake.jobId);
    const reply = this.metrics.replyQueued(msg.thread.platform);
    return this.replies.run(threadKey(msg.thread), () => reply.run(() => this.answerSafely(intake.jobId, intake.conversationId, intake.messageId, () => reply.watch(ctx.sink()))));
  }

  recordEdit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): Promise<void> {
    return this.intake.run(threadKey(thread), async () => this.changes.edit(thread, messageId, text, attachments));
  }

  recordDelete(thread: ThreadRef, messageId: string): Promise<void> {
    return this.intake.run(threadKey(thread), async () => this.changes.delete(thread, messageId));
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
        const reply = this.metrics.replyQueued(platform);
        return this.replies.run(threadKey(thread), () =>
          reply.run(async () => {
            await clearStrays();
            return this.answerSafely(job.id, conversation.id, message.id, () => reply.watch(makeSink()));
          }),
        );
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
      this.store.answers.counts(command.platform, command.workspaceId, since),
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

  listThreads(platform: Platform, workspaceId: string): ThreadSummary[] {
    return this.reader.listThreads(platform, workspaceId);
  }

  readThread(thread: ThreadRef): ThreadEntry[] | undefined {
    return this.reader.readThread(thread);
  }

  registerPlatform(platform: Platform, services: PlatformServices): void {
    this.platforms.set(platform, services);
  }

  runInstructionsCommand(command: InstructionsCommand): CommandReply {
    return this.instructions.run(command);
  }

  runSettingsCommand(command: SettingsCommand): Promise<CommandReply> {
    return this.settings.run(command);
  }

  effectiveSettings(platform: Platform, workspaceId: string, channelId: string): EffectiveSettings {
    return this.settings.effective(platform, workspaceId, channelId);
  }

  settingValueChoices(platform: Platform, key: string | undefined, typed: string): Promise<string[]> {
    return this.settings.valueChoices(platform, key, typed);
  }

  answersAllowed(msg: InboundMessage): boolean {
    return this.refusalFor(msg) === undefined;
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
    | { kind: 'refused'; refusal: AnswerRefusal }
  > {
    let conversation = this.store.conversations.find(msg.thread);
    if (conversation === undefined && this.changes.takeDeletedEarly(msg.thread, msg.messageId)) return { kind: 'done', outcome: { kind: 'ignored', reason: 'deleted' } };
    const addressed = msg.author.kind === 'user' && (msg.isDirect || msg.mentionsBot);
    const followUp = !addressed && msg.author.kind === 'user' && this.options.followUpWithoutMention && conversation !== undefined && this.isEngaged(conversation.id);
    const wantsAnswer = addressed || followUp;
    const refusal = wantsAnswer ? this.refusalFor(msg) : undefined;
    if (refusal !== undefined) return this.intakeRefused(msg, conversation, addressed, refusal);
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
        for (const earlier of history) {
          if (this.store.messages.insert(this.toNewMessage(conversation.id, earlier)) !== undefined) this.backfilled.add(conversation.id, earlier.messageId);
        }
        this.store.conversations.markBackfilled(conversation.id);
      }
      let rowId = this.store.messages.insert(this.toNewMessage(conversation.id, msg));
      if (rowId === undefined) {
        const existing = this.store.messages.find(conversation.id, msg.messageId);
        // Only a history read (this one, or one this create waited behind) may have stored it; anything else is a second delivery.
        const firstDelivery = this.backfilled.take(conversation.id, msg.messageId);
        if (!firstDelivery || existing === undefined || this.store.jobs.forMessage(existing.id) !== undefined) {
          return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
        }
        rowId = existing.id;
      }
      this.store.conversations.touch(conversation.id, msg.createdAt);
      // A delete that came first: recorded as deleted, never answered. An edit: its text stands.
      if (this.changes.applyEarly(msg.thread, msg.messageId, rowId)?.kind === 'deleted') return { kind: 'done', outcome: { kind: 'ignored', reason: 'deleted' } } as const;
      if (!wantsAnswer) return { kind: 'done', outcome: { kind: 'recorded' } } as const;
      const limit = this.checkLimits(msg);
      if (limit !== undefined) return { kind: 'limited', messageId: rowId, ...limit } as const;
      const jobId = this.store.jobs.create(rowId, conversation.id, this.now());
      if (jobId === undefined) return { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
      return { kind: 'job', jobId, conversationId: conversation.id, messageId: rowId } as const;
    });
  }

  /** `/settings` forbids answering `msg`: what to say instead, or undefined. */
  private refusalFor(msg: InboundMessage): AnswerRefusal | undefined {
    return answerRefusal(this.settings.effective(msg.thread.platform, msg.thread.workspaceId, msg.thread.channelId), msg);
  }

  /**
   * A message `/settings` does not let the bot answer: recorded when its thread is a conversation
   * already (the history stays whole for when answers are back), otherwise left alone, and a
   * mention or DM is told why, once (redeliveries are claimed like any event).
   */
  private intakeRefused(msg: InboundMessage, conversation: Conversation | undefined, addressed: boolean, refusal: AnswerRefusal) {
    return this.store.transaction(() => {
      const duplicate = { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
      for (const key of msg.dedupeKeys ?? []) if (!this.store.events.claim(key, this.now())) return duplicate;
      if (conversation !== undefined) {
        if (this.store.messages.insert(this.toNewMessage(conversation.id, msg)) === undefined) return duplicate;
        this.store.conversations.touch(conversation.id, msg.createdAt);
      } else if (!this.store.events.claim(`refused:${threadKey(msg.thread)}:${msg.messageId}`, this.now())) {
        return duplicate;
      }
      this.logger.info({ platform: msg.thread.platform, channel: msg.thread.channelId, user: msg.author.id, code: refusal.code }, 'not answering: /settings');
      return addressed ? ({ kind: 'refused', refusal } as const) : ({ kind: 'done', outcome: { kind: 'recorded' } } as const);
    });
  }

  private async postRefusal(refusal: AnswerRefusal, makeSink: () => ReplySink): Promise<HandleOutcome> {
    let postedIds: PostedIds = [];
    try {
      postedIds = await makeSink().fail(refusal.text, refusal.code);
    } catch (error) {
      this.logger.error({ err: error }, 'could not say why the bot does not answer');
    }
    return { kind: 'refused', code: refusal.code, postedIds };
  }

  /** The request rules of the model the settings choose for this conversation, now. */
  private rulesFor(modelId: string): ModelRules {
    const rules = modelRules(modelId);
    if (!rules.known && !this.warnedModels.has(modelId)) {
      this.warnedModels.add(modelId);
      this.logger.warn({ model: modelId }, 'unknown model id: using the most conservative request rules');
    }
    return rules;
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
  private async answerSafely(jobId: number | null, conversationId: number, messageId: number, makeSink: () => ReplySink, replacing?: StoredAnswer): Promise<HandleOutcome> {
    let sink: ReplySink | undefined;
    const lazySink = () => (sink ??= makeSink());
    try {
      return await this.answer(jobId, conversationId, messageId, lazySink, replacing);
    } catch (error) {
      this.logger.error({ err: error, jobId }, 'unexpected failure while answering');
      this.metrics.error('platform', 'platform_post_failed');
      let postedIds: PostedIds = [];
      try {
        if (sink !== undefined) {
          postedIds =
            replacing === undefined
              ? await sink.fail('Something went wrong on my side while answering. Please try again.', 'platform_post_failed')
              : // A regeneration that broke leaves the old answer, as stored.
                await sink.finish({ text: replacing.text, note: 'Could not regenerate: something went wrong on my side.' });
        }
        if (jobId !== null) this.store.jobs.finish(jobId, 'failed', this.now());
      } catch {
        // The database or the platform itself may be what failed; the job is retried at the next start.
      }
      return { kind: 'failed', code: 'platform_post_failed', postedIds };
    } finally {
      if (jobId !== null) this.ownJobs.delete(jobId);
    }
  }

  /** Answers a stored question; with `replacing`, a regeneration that takes the place of that answer. */
  private async answer(jobId: number | null, conversationId: number, messageId: number, makeSink: () => ReplySink, replacing?: StoredAnswer): Promise<HandleOutcome> {
    const message = this.store.messages.live(conversationId, messageId);
    if (message === undefined) {
      if (jobId !== null) this.store.jobs.finish(jobId, 'dropped', this.now());
      return { kind: 'ignored', reason: 'deleted' };
    }
    const conversation = this.store.conversations.get(conversationId) as Conversation;
    const log = this.logger.child({ thread: conversation.threadKey, platform: conversation.platform, message: message.platformMessageId });
    const rules = this.rulesFor(this.settings.effective(conversation.platform, conversation.workspaceId, conversation.channelId).model.value);
    const sink = makeSink();
    try {
      await sink.start({ answerId: String(message.id) });
    } catch (error) {
      log.warn({ err: error }, 'could not show progress; answering anyway');
    }
    const tracked = this.controls.track(message.id, message.authorId, sink.signal);

    let result: TurnResult;
    let userNotes: readonly string[] = [];
    let web = this.webTools.plan(refOf(conversation), rules.id);
    try {
      const system = this.prepareSystem(conversation, message, rules);
      let shrunk = false;
      for (let attempt = 1; ; attempt += 1) {
        const next = await this.requests.next(conversation, message.id, system, log, rules);
        userNotes = next.userNotes;
        const { assembled } = next;
        try {
          const withTools = web.tools === undefined ? assembled.request : { ...assembled.request, tools: web.tools };
          const request = withThinking(this.panel.withViewedChannel(withTools, conversation), rules, this.options.thinking ?? 'off');
          result = await completeTurn(this.options.model, request, {
            onText: (text) => sink.progress?.(text),
            onThinking: () => sink.thinking?.(),
            onActivity: (activity) => sink.activity?.(activity),
            onUnfinished: (partial) => this.recordUsage(conversation, message, partial, rules.id),
            signal: tracked.signal,
          });
          // Search results and pages count as input too: only a tool-free turn says how good the estimate was.
          if (!result.content.some((block) => block.type === 'server_tool_use')) this.requests.observe(conversation.id, assembled, result.firstUsage);
          break;
        } catch (error) {
          const failure = toModelError(error);
          const withoutTools = this.webTools.withoutRejectedTools(failure, web, rules.id, log);
          if (withoutTools !== undefined) {
            web = withoutTools;
            continue;
          }
          if (!shrunk && this.requests.shrinkAfterTooLong(failure, conversation.id, assembled, log)) {
            shrunk = true;
            continue;
          }
          const unreachable = attempt < IMAGE_FALLBACK_ATTEMPTS ? this.requests.unreachableImage(failure, assembled.request, conversation.id) : undefined;
          if (unreachable === undefined) throw error;
          log.warn({ attachment: unreachable.name }, 'the API could not download an attachment URL; replacing it');
          await this.pipeline.replaceUnreachable(this.platforms.get(conversation.platform), unreachable);
        }
      }
    } catch (error) {
      tracked.release();
      if (tracked.signal.aborted) {
        log.info('answer stopped by the user before any text');
        return this.failWith(jobId, message, sink, 'Stopped before I wrote anything.', new ThreadlineError('stopped_by_user', 'stopped'), log, replacing);
      }
      const failure = toModelError(error);
      log.error({ err: failure.cause ?? failure, code: failure.code, requestId: failure.requestId }, `model call failed: ${failure.message}`);
      return this.failWith(jobId, message, sink, userMessageFor(failure, rules.id), failure, log, replacing);
    }
    tracked.release();
    const stopped = result.stopReason === STOPPED_BY_USER;
    if (stopped) log.info('answer stopped by the user');

    // Tokens were spent whatever happens next; on success this joins the answer's one commit.
    const recordUsage = () => this.recordUsage(conversation, message, result, rules.id);
    if (result.stopReason === 'refusal') {
      recordUsage();
      log.info({ requestId: result.requestId, category: result.refusal?.category }, 'model refused');
      return this.failWith(jobId, message, sink, refusalMessage(result.refusal), new ThreadlineError('model_refused', 'refused'), log, replacing);
    }
    const outcome = turnOutcome(result.text, result.content, result.stopReason);
    if (result.text.trim() === '') {
      recordUsage();
      log.warn({ requestId: result.requestId, stopReason: result.stopReason }, 'model returned no text');
      if (stopped) return this.failWith(jobId, message, sink, 'Stopped before I wrote anything.', new ThreadlineError('stopped_by_user', 'stopped'), log, replacing);
      return this.failWith(jobId, message, sink, outcome.emptyMessage ?? 'Claude returned an empty answer. Please rephrase and try again.', new ThreadlineError('model_unavailable', 'empty answer'), log, replacing);
    }

    const notes = [...userNotes, ...web.notes, ...outcome.notes, ...(result.stopReason === 'max_tokens' ? [CUT_NOTE] : []), ...answerNotes(result)];
    const note = notes.length === 0 ? undefined : notes.join('\n');
    let posted: PostedIds;
    try {
      posted = await sink.finish({ text: result.text, ...(note === undefined ? {} : { note }), ...(outcome.sources.length === 0 ? {} : { sources: outcome.sources }) });
    } catch (error) {
      const code = isThreadlineError(error) ? error.code : 'platform_post_failed';
      log.error({ err: error, code }, 'could not post the answer');
      this.metrics.error('platform', code);
      this.store.transaction(() => {
        recordUsage();
        if (jobId !== null) this.store.jobs.finish(jobId, 'failed', this.now());
      });
      return { kind: 'failed', code: 'platform_post_failed', postedIds: [] };
    }
    // One commit for the answer, its usage and its job.
    this.store.transaction(() => {
      if (replacing === undefined) this.storeReply(conversation.id, message, outcome.storedText, posted);
      else replaceStoredAnswer(this.store, replacing, message, outcome.storedText, posted, this.now());
      recordUsage();
      if (jobId !== null) this.store.jobs.finish(jobId, 'done', this.now());
    });
    return { kind: 'answered', postedIds: posted, ...(stopped ? { stopped: true as const } : {}) };
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
    jobId: number | null,
    message: StoredMessage,
    sink: ReplySink,
    userText: string,
    failure: ThreadlineError,
    log: Logger,
    replacing?: StoredAnswer,
  ): Promise<HandleOutcome> {
    let posted: PostedIds = [];
    if (replacing !== undefined) {
      // A failed regeneration leaves the old answer standing, shown and stored.
      try {
        posted = await sink.finish({ text: replacing.text, note: `Could not regenerate: ${userText}` });
        this.store.transaction(() => replaceStoredAnswer(this.store, replacing, message, replacing.text, posted, this.now()));
      } catch (error) {
        log.error({ err: error }, 'could not restore the answer after a failed regeneration');
      }
      return { kind: 'failed', code: failure.code, postedIds: posted };
    }
    try {
      posted = await sink.fail(userText, failure.code);
      // Recorded with no text, so a later history read does not bring the apology back as an answer.
      this.storeReply(message.conversationId, message, '', posted);
    } catch (error) {
      log.error({ err: error }, 'could not tell the user about the failure');
    }
    if (jobId !== null) this.store.jobs.finish(jobId, 'failed', this.now());
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
  private prepareSystem(conversation: Conversation, answering: StoredMessage, rules: ModelRules): string {
    const instructions = this.effectiveInstructions(conversation);
    const current = buildSystemPrompt(conversation.platform, instructions);
    if (conversation.systemPrompt === null || !rules.midConversationSystem || !this.store.messages.hasAssistantTurn(conversation.id)) {
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

  private recordUsage(conversation: Conversation, message: StoredMessage, result: TurnResult, model: string): void {
    this.store.usage.record({
      conversationId: conversation.id,
      platform: conversation.platform,
      workspaceId: conversation.workspaceId,
      channelId: conversation.channelId,
      userId: message.authorId,
      model,
      requestId: result.requestId,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
      cacheReadTokens: result.usage.cacheReadTokens,
      cacheCreationTokens: result.usage.cacheCreationTokens,
      webSearchRequests: result.usage.webSearchRequests,
      webFetchRequests: result.usage.webFetchRequests,
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
