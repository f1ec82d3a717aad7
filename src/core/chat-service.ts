/**
 * The one entry point adapters call. It owns everything platform-independent about a
 * conversation: dedupe, self-skip, recording, backfill-once, the decision to answer, per-thread
 * order, building the request, the model call, and what is stored and shown afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { AnswerControls } from './answer-controls/answer-controls.js';
import type { ThinkingSetting } from './answer-controls/thinking.js';
import { AssistantPanel, type SuggestedPromptsSource, type ViewedChannel } from './assistant-panel.js';
import { AttachmentPipeline } from './attachment-pipeline.js';
import { AdminCommands } from './chat/admin-commands.js';
import { AnswerRecords } from './chat/answer-records.js';
import { Answering } from './chat/answering.js';
import type { ChatContext } from './chat/context.js';
import { Intake } from './chat/intake.js';
import { JobDispatch } from './chat/job-dispatch.js';
import { JobLeases } from './chat/job-leases.js';
import { Limits } from './chat/limits.js';
import { Recovery } from './chat/recovery.js';
import { Regenerations } from './chat/regenerations.js';
import { refOf, threadKey } from './chat/thread-refs.js';
import { ConversationRequests } from './request/conversation-requests.js';
import { InstructionsService, type CommandReply, type InstructionsCommand } from './instructions.js';
import { KeyedQueue } from './keyed-queue.js';
import { Metrics } from './metrics.js';
import { StoredThreadReader } from './thread-reader.js';
import type { ModelClient } from './model-client.js';
import { ANSWERS_OFF_TEXT } from './settings/access.js';
import { ModelCatalog } from './settings/model-catalog.js';
import type { EffectiveSettings } from './settings/resolve.js';
import { SettingsService, type SettingsCommand } from './settings/service.js';
import { WebTools, type WebToolLimits } from './web-tools/index.js';
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
  /** This process among the replicas sharing a PostgreSQL database (default: a random UUID). */
  readonly replicaId?: string;
  /** REPLY_LEASE_SECONDS in ms: a reply whose replica stopped renewing is taken over after this (default 30 s). */
  readonly replyLeaseMs?: number;
  /** Where replies, latencies and errors are counted (`GET /metrics`); a private registry when absent. */
  readonly metrics?: Metrics;
}

/**
 * Wires the parts in `chat/` (intake, limits, answering, recovery, admin commands) and the
 * services they use, and implements the adapters' contract and the thread reader by delegating.
 */
export class ChatService implements ChatCore, ThreadReader {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly platforms = new Map<Platform, PlatformServices>();
  /** Jobs this process has taken on, queued or answering: a resume must not take them a second time. */
  private readonly ownJobs = new Set<number>();
  private readonly requests: ConversationRequests;
  private readonly replies: KeyedQueue;
  private readonly instructions: InstructionsService;
  /** `/settings` and the effective settings of a channel: `settings.effective(platform, workspaceId, channelId)`. */
  readonly settings: SettingsService;
  private readonly controls: AnswerControls;
  private readonly panel: AssistantPanel;
  private readonly metrics: Metrics;
  private readonly reader: StoredThreadReader;
  private readonly intake: Intake;
  private readonly limits: Limits;
  private readonly answering: Answering;
  private readonly recovery: Recovery;
  private readonly jobs: JobDispatch;
  private readonly regenerations: Regenerations;
  private readonly leases: JobLeases;
  private readonly admin: AdminCommands;

  constructor(options: ChatServiceOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new Metrics();
    this.reader = new StoredThreadReader(this.store);
    const pipeline = new AttachmentPipeline({
      store: this.store,
      model: options.model,
      logger: this.logger,
      now: this.now,
      ...(options.textAttachmentMaxBytes === undefined ? {} : { textAttachmentMaxBytes: options.textAttachmentMaxBytes }),
    });
    this.requests = new ConversationRequests({
      store: this.store,
      pipeline,
      maxTokens: options.maxTokens,
      contextBudgetTokens: options.contextBudgetTokens,
      platformServices: (platform) => this.platforms.get(platform),
    });
    // Per-thread order only: how many model calls run at once is the model client's gate, so an
    // answer waiting for it already shows typing (sink.start) and waits its turn fairly.
    this.replies = new KeyedQueue();
    this.instructions = new InstructionsService(this.store, this.logger, this.now);
    this.settings = new SettingsService({
      store: this.store,
      catalog: new ModelCatalog(options.model, this.logger, this.now),
      defaults: { model: options.modelId, webSearch: options.webSearch ?? false, webFetch: options.webFetch ?? true },
      logger: this.logger,
      now: this.now,
    });
    const context: ChatContext = { options, store: this.store, logger: this.logger, now: this.now, platforms: this.platforms, ownJobs: this.ownJobs, replies: this.replies, metrics: this.metrics, settings: this.settings };
    const records = new AnswerRecords(context);
    this.limits = new Limits(context, records);
    // One id per process: the store's (its cache notifications name it) when it has one.
    const replica = { replicaId: options.replicaId ?? options.store.replication?.replicaId ?? randomUUID(), leaseMs: options.replyLeaseMs ?? 30_000 };
    this.leases = new JobLeases({ store: this.store, logger: this.logger, now: this.now, ownJobs: this.ownJobs, ...replica });
    this.intake = new Intake(context, this.limits, this.leases);
    const webTools = new WebTools({
      ...(options.webToolLimits === undefined ? {} : { limits: options.webToolLimits }),
      ...(options.dailySearchBudget === undefined ? {} : { dailySearchBudget: options.dailySearchBudget }),
      searchesSince: (platform, workspaceId, since) => this.store.usage.searchesSince(platform, workspaceId, since),
      now: this.now,
    });
    // `/settings set prompts` where an admin set them, the built-in set otherwise.
    this.panel = new AssistantPanel(
      this.store,
      this.now,
      options.suggestedPrompts ?? (async (thread) => (await this.settings.effective(thread.platform, thread.workspaceId, thread.channelId)).prompts.value),
    );
    this.controls = new AnswerControls({
      store: this.store,
      logger: this.logger,
      now: this.now,
      regenerate: (conversation, question, answer) => this.regenerations.start(conversation, question, answer),
      answersRefused: async (conversation) =>
        (await this.settings.effective(conversation.platform, conversation.workspaceId, conversation.channelId)).answers.value ? undefined : ANSWERS_OFF_TEXT,
    });
    this.answering = new Answering(context, { records, pipeline, requests: this.requests, webTools, panel: this.panel, controls: this.controls, leases: this.leases });
    this.answering.rulesFor(options.modelId);
    this.recovery = new Recovery(context, records, this.answering, this.leases);
    this.jobs = new JobDispatch(context, this.answering, this.recovery);
    this.regenerations = new Regenerations(context, this.leases, this.jobs);
    this.admin = new AdminCommands(context, this.requests);
  }

  pressControl(press: ControlPress): Promise<ControlReply> {
    return this.controls.press(press);
  }

  assistantThreadStarted(thread: ThreadRef, viewing: ViewedChannel | null) {
    return this.panel.started(thread, viewing);
  }

  assistantContextChanged(thread: ThreadRef, viewing: ViewedChannel | null): Promise<void> {
    return this.panel.contextChanged(thread, viewing);
  }

  assistantTitle(thread: ThreadRef, question: string): Promise<string | undefined> {
    return this.panel.titleFor(thread, question);
  }

  async handle(msg: InboundMessage, ctx: InboundContext): Promise<HandleOutcome> {
    if (msg.author.kind === 'self') {
      ctx.onAccepted?.();
      return { kind: 'ignored', reason: 'self' };
    }
    const intake = await this.intake.record(msg, ctx);
    if (intake.kind === 'refused') {
      return this.metrics.replyQueued(msg.thread.platform).run(() => this.intake.refusals.post(intake.refusal, ctx.sink));
    }
    if (intake.kind === 'limited') {
      return this.metrics.replyQueued(msg.thread.platform).run(() => this.limits.refuseOverLimit(intake.messageId, intake.code, intake.retryAfterMs, ctx.sink));
    }
    if (intake.kind !== 'job') return intake.outcome;
    return this.jobs.answer(msg.thread.platform, threadKey(msg.thread), intake, ctx.sink);
  }

  recordEdit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): Promise<void> {
    return this.intake.recordEdit(thread, messageId, text, attachments);
  }

  recordDelete(thread: ThreadRef, messageId: string): Promise<void> {
    return this.intake.recordDelete(thread, messageId);
  }

  async recentThreads(platform: Platform, sinceMs: number): Promise<Array<{ thread: ThreadRef; lastMessageId: string | null }>> {
    return (await this.store.conversations.recent(platform, sinceMs)).map(({ conversation, lastMessageId }) => ({ thread: refOf(conversation), lastMessageId }));
  }

  ingest(msgs: readonly InboundMessage[]): Promise<void> {
    return this.intake.ingest(msgs);
  }

  resumePending(platform: Platform): Promise<void> {
    return this.recovery.resumePending(platform);
  }

  runUsageCommand(command: UsageCommand): Promise<CommandReply> {
    return this.admin.runUsageCommand(command);
  }

  forgetThread(thread: ThreadRef, actor: { readonly id: string; readonly isAdmin: boolean }): Promise<CommandReply> {
    return this.admin.forgetThread(thread, actor);
  }

  /** Deletes stored conversation data older than `retentionDays`; returns what went. */
  prune(retentionDays: number) {
    return this.admin.prune(retentionDays);
  }

  listThreads(platform: Platform, workspaceId: string): Promise<ThreadSummary[]> {
    return this.reader.listThreads(platform, workspaceId);
  }

  readThread(thread: ThreadRef): Promise<ThreadEntry[] | undefined> {
    return this.reader.readThread(thread);
  }

  registerPlatform(platform: Platform, services: PlatformServices): void {
    this.platforms.set(platform, services);
  }

  runInstructionsCommand(command: InstructionsCommand): Promise<CommandReply> {
    return this.instructions.run(command);
  }

  runSettingsCommand(command: SettingsCommand): Promise<CommandReply> {
    return this.settings.run(command);
  }

  effectiveSettings(platform: Platform, workspaceId: string, channelId: string): Promise<EffectiveSettings> {
    return this.settings.effective(platform, workspaceId, channelId);
  }

  settingValueChoices(platform: Platform, key: string | undefined, typed: string): Promise<string[]> {
    return this.settings.valueChoices(platform, key, typed);
  }

  async answersAllowed(msg: InboundMessage): Promise<boolean> {
    return (await this.intake.refusals.refusalFor(msg)) === undefined;
  }

  /** Waits for every queued intake and answer (and the answers they hand the thread on to): for shutdown and tests. */
  async idle(): Promise<void> {
    await this.intake.idle();
    do {
      await this.regenerations.idle();
      await this.replies.idle();
      await this.recovery.idle();
    } while (this.replies.activeKeys > 0);
  }

  /** Shutdown begins: this replica takes no more reply jobs (the others will). */
  stopTakingJobs = (): void => this.leases.stopClaiming();

  /** Shutdown ends: gives back the jobs still held, so another replica takes them at once (`release: false`: left to expire). */
  stopLeases = (options: { readonly release: boolean } = { release: true }): Promise<void> => this.leases.stop(options);

  /** This replica's id in the leases of the jobs it answers. */
  get replicaId(): string {
    return this.leases.replicaId;
  }
}
