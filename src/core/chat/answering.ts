/**
 * Answering a stored question: the request (system prompt, thread, web tools, thinking), the
 * streamed model call with its retries (rejected tools, too long, unreachable images), and what
 * is posted and stored afterwards. A regeneration is the same answer into the old answer's place.
 */
import type { Logger } from 'pino';
import { ThreadlineError, isThreadlineError } from '../../errors.js';
import type { StoredAnswer } from '../../store/answers.js';
import type { Store } from '../../store/index.js';
import type { Conversation } from '../../store/types.js';
import type { AnswerControls } from '../answer-controls/answer-controls.js';
import { replaceStoredAnswer } from '../answer-controls/replace-answer.js';
import { answerNotes, withThinking } from '../answer-controls/thinking.js';
import type { AssistantPanel } from '../assistant-panel.js';
import type { AttachmentPipeline } from '../attachment-pipeline.js';
import type { ConversationRequests } from '../request/conversation-requests.js';
import { STOPPED_BY_USER } from '../model-client.js';
import { refusalMessage, toModelError, userMessageFor } from '../model-errors.js';
import { modelRules, type ModelRules } from '../models.js';
import { lazyChild } from '../lazy-logger.js';
import type { HandleOutcome, PostedIds, ReplySink } from '../types.js';
import { completeTurn, turnOutcome, type TurnResult, type WebTools } from '../web-tools/index.js';
import type { AnswerRecords } from './answer-records.js';
import { ChatPart, type ChatContext } from './context.js';
import type { JobLeases } from './job-leases.js';
import { SystemPromptUpdate } from './system-prompt-update.js';
import { writeTogether } from './write-together.js';
import { refOf, threadKey } from './thread-refs.js';

const CUT_NOTE = 'The answer was cut off because it reached the length limit.';
/** Requests rebuilt after the API could not download an image URL, at most. */
const IMAGE_FALLBACK_ATTEMPTS = 3;

export interface AnswerOptions {
  /** A regeneration: the answer takes the place of this one. */
  readonly replacing?: StoredAnswer | undefined;
  /**
   * The caller passed the cache barrier itself and nothing was waited for since (a mention
   * answered the moment its intake ended), so this reply counts that barrier as its own; anything
   * that waited (a follow-up queued behind an answer, a job taken over or handed on, a
   * regeneration) passes a new one.
   */
  readonly cachesSynced?: boolean;
  /** Intake's COMMIT when it may still be on its way: awaited before the model is called. */
  readonly committed?: Promise<void> | undefined;
}

/** Whether intake's COMMIT, when one was on its way, failed: the question was never stored. */
const commitFailed = (committed: Promise<void> | undefined): Promise<boolean> => (committed === undefined ? Promise.resolve(false) : committed.then(() => false, () => true));

/** What answering uses besides the shared context; `ChatService` builds them. */
export interface AnsweringParts {
  readonly records: AnswerRecords;
  readonly pipeline: AttachmentPipeline;
  readonly requests: ConversationRequests;
  readonly webTools: WebTools;
  readonly panel: AssistantPanel;
  readonly controls: AnswerControls;
  /** Whether this replica still holds a job's lease (JobLeases): a replica that lost it posts nothing more. */
  readonly leases: Pick<JobLeases, 'holds' | 'done' | 'gaveUp' | 'mustWait'>;
}

export class Answering extends ChatPart {
  /** Model ids already warned about as unknown to the rules table. */
  private readonly warnedModels = new Set<string>();
  private readonly records: AnswerRecords;
  private readonly pipeline: AttachmentPipeline;
  private readonly requests: ConversationRequests;
  private readonly webTools: WebTools;
  private readonly panel: AssistantPanel;
  private readonly controls: AnswerControls;
  private readonly systemPrompt: SystemPromptUpdate;
  private readonly leases: Pick<JobLeases, 'holds' | 'done' | 'gaveUp' | 'mustWait'>;

  constructor(context: ChatContext, parts: AnsweringParts) {
    super(context);
    this.records = parts.records;
    this.pipeline = parts.pipeline;
    this.requests = parts.requests;
    this.webTools = parts.webTools;
    this.panel = parts.panel;
    this.controls = parts.controls;
    this.leases = parts.leases;
    this.systemPrompt = new SystemPromptUpdate(this.store);
  }

  /** The request rules of the model the settings choose for this conversation, now. */
  rulesFor(modelId: string): ModelRules {
    const rules = modelRules(modelId);
    if (!rules.known && !this.warnedModels.has(modelId)) {
      this.warnedModels.add(modelId);
      this.logger.warn({ model: modelId }, 'unknown model id: using the most conservative request rules');
    }
    return rules;
  }

  /**
   * A bug or a database failure must not leave the user in silence or the job forever running.
   */
  async answerSafely(jobId: number | null, conversationId: number, messageId: number, makeSink: () => ReplySink, options: AnswerOptions = {}): Promise<HandleOutcome> {
    const { replacing, cachesSynced = false, committed } = options;
    let sink: ReplySink | undefined;
    const lazySink = () => (sink ??= makeSink());
    try {
      // Replicas: what any of them committed before this reply (instructions, settings, /forget, messages) is seen by it.
      if (!cachesSynced) await this.store.syncCaches();
      if (jobId !== null && (await this.leases.mustWait(jobId, conversationId))) {
        this.logger.info({ jobId }, 'an earlier answer of this thread was given up here: leaving this one to be taken up after it, in order');
        return { kind: 'failed', code: 'reply_abandoned', postedIds: [] };
      }
      return await this.answer(jobId, conversationId, messageId, lazySink, replacing, committed);
    } catch (error) {
      // Intake's failed COMMIT: `handle` rejects with it, and its caller logs it (once).
      if (!(await commitFailed(committed))) this.logger.error({ err: error, jobId }, 'unexpected failure while answering');
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
        if (jobId !== null) await this.store.jobs.finish(jobId, 'failed', this.now());
      } catch {
        // The database or the platform itself may be what failed; the job is retried at the next start.
      }
      return { kind: 'failed', code: 'platform_post_failed', postedIds };
    } finally {
      if (jobId !== null) {
        this.ownJobs.delete(jobId);
        this.leases.done(jobId);
      }
    }
  }

  /**
   * This replica stopped renewing the job's lease long enough that another may have taken it
   * over (it was frozen, or cut off from the database): it posts and stores nothing more, and
   * gives the job back (JobLeases.gaveUp) to whoever takes it up, or holds it already.
   */
  private async abandoned(jobId: number | null, conversationId: number, log: Logger): Promise<HandleOutcome> {
    log.warn('this replica lost the lease of the reply it was writing (paused, or cut off from the database): leaving it to the replica that holds it now');
    if (jobId !== null) {
      try {
        await this.leases.gaveUp(jobId, conversationId);
      } catch (error) {
        // Its lease runs out by itself; a sweep takes it up then.
        log.warn({ err: error }, 'could not give back the reply at once');
      }
    }
    return { kind: 'failed', code: 'reply_abandoned', postedIds: [] };
  }

  /** Answers a stored question; with `replacing`, a regeneration that takes the place of that answer. */
  private async answer(jobId: number | null, conversationId: number, messageId: number, makeSink: () => ReplySink, replacing?: StoredAnswer, committed?: Promise<void>): Promise<HandleOutcome> {
    const message = await this.store.messages.live(conversationId, messageId);
    if (message === undefined) {
      if (jobId !== null) await this.store.jobs.finish(jobId, 'dropped', this.now());
      return { kind: 'ignored', reason: 'deleted' };
    }
    const conversation = (await this.store.conversations.get(conversationId)) as Conversation;
    const log = lazyChild(this.logger, { thread: conversation.threadKey, platform: conversation.platform, message: message.platformMessageId });
    // The channel's settings, read once for the whole reply: its model and its web tools.
    const settings = await this.settings.effective(conversation.platform, conversation.workspaceId, conversation.channelId);
    const rules = this.rulesFor(settings.model.value);
    const sink = makeSink();
    try {
      await sink.start({ answerId: String(message.id) });
    } catch (error) {
      log.warn({ err: error }, 'could not show progress; answering anyway');
    }
    const tracked = this.controls.track(message.id, message.authorId, sink.signal);
    const holds = () => jobId === null || this.leases.holds(jobId);

    let result: TurnResult;
    let userNotes: readonly string[] = [];
    // Independent reads, started together: on PostgreSQL their round trips overlap.
    const [planned, viewing] = await Promise.all([
      this.webTools.plan(refOf(conversation), rules.id, { webSearch: settings.webSearch.value, webFetch: settings.webFetch.value }),
      this.panel.viewedChannel(conversation),
    ]);
    let web = planned;
    try {
      const system = await this.systemPrompt.prepareSystem(conversation, message, rules);
      let shrunk = false;
      for (let attempt = 1; ; attempt += 1) {
        const next = await this.requests.next(conversation, message.id, system, log, rules);
        // Nothing reaches the model for a question not stored yet (intake's COMMIT may still be on its way).
        await committed;
        userNotes = next.userNotes;
        const { assembled } = next;
        try {
          const withTools = web.tools === undefined ? assembled.request : { ...assembled.request, tools: web.tools };
          const request = withThinking(this.panel.withViewedChannel(withTools, viewing), rules, this.options.thinking ?? 'off');
          result = await completeTurn(this.options.model, request, {
            onText: (text) => {
              if (holds()) sink.progress?.(text);
            },
            onThinking: () => sink.thinking?.(),
            onActivity: (activity) => sink.activity?.(activity),
            onStart: () => sink.modelStarted?.(),
            onUnfinished: (partial) => this.records.recordUsage(this.store, conversation, message, partial, rules.id),
            signal: tracked.signal,
            lane: threadKey(refOf(conversation)),
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
          if (!shrunk && this.requests.shrinkAfterTooLong(failure, conversation.id, assembled, rules, log)) {
            shrunk = true;
            continue;
          }
          const unreachable = attempt < IMAGE_FALLBACK_ATTEMPTS ? await this.requests.unreachableImage(failure, assembled.request, conversation.id) : undefined;
          if (unreachable === undefined) throw error;
          log.warn({ attachment: unreachable.name }, 'the API could not download an attachment URL; replacing it');
          await this.pipeline.replaceUnreachable(this.platforms.get(conversation.platform), unreachable);
        }
      }
    } catch (error) {
      tracked.release();
      // Intake's COMMIT failed: no failure of the model's, so not explained as one.
      if (await commitFailed(committed)) throw error;
      if (!holds()) return this.abandoned(jobId, conversation.id, log);
      if (tracked.signal.aborted) {
        log.info('answer stopped by the user before any text');
        return this.records.failWith(jobId, message, sink, 'Stopped before I wrote anything.', new ThreadlineError('stopped_by_user', 'stopped'), log, replacing);
      }
      const failure = toModelError(error);
      log.error({ err: failure.cause ?? failure, code: failure.code, requestId: failure.requestId }, `model call failed: ${failure.message}`);
      return this.records.failWith(jobId, message, sink, userMessageFor(failure, rules.id), failure, log, replacing);
    }
    tracked.release();
    if (!holds()) return this.abandoned(jobId, conversation.id, log);
    const stopped = result.stopReason === STOPPED_BY_USER;
    if (stopped) log.info('answer stopped by the user');

    // Tokens were spent whatever happens next; on success this joins the answer's one commit.
    const recordUsage = (store: Store) => this.records.recordUsage(store, conversation, message, result, rules.id);
    if (result.stopReason === 'refusal') {
      await recordUsage(this.store);
      log.info({ requestId: result.requestId, category: result.refusal?.category }, 'model refused');
      return this.records.failWith(jobId, message, sink, refusalMessage(result.refusal), new ThreadlineError('model_refused', 'refused'), log, replacing);
    }
    const outcome = turnOutcome(result.text, result.content, result.stopReason);
    if (result.text.trim() === '') {
      await recordUsage(this.store);
      log.warn({ requestId: result.requestId, stopReason: result.stopReason }, 'model returned no text');
      if (stopped) return this.records.failWith(jobId, message, sink, 'Stopped before I wrote anything.', new ThreadlineError('stopped_by_user', 'stopped'), log, replacing);
      return this.records.failWith(jobId, message, sink, outcome.emptyMessage ?? 'Claude returned an empty answer. Please rephrase and try again.', new ThreadlineError('model_unavailable', 'empty answer'), log, replacing);
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
      await this.store.transaction(async (tx) => {
        await recordUsage(tx);
        if (jobId !== null) await tx.jobs.finish(jobId, 'failed', this.now());
      });
      return { kind: 'failed', code: 'platform_post_failed', postedIds: [] };
    }
    // One commit for the answer, its usage and its job; the three are independent, so they go
    // together. A new one-part answer sends each as one statement at once, so on PostgreSQL the
    // COMMIT goes with them (a regeneration, or the later parts of a long answer, wait on rows first).
    await this.store.transaction(
      (tx) =>
        writeTogether([
          replacing === undefined
            ? this.records.recordReply(tx, conversation.id, message, outcome.storedText, posted)
            : replaceStoredAnswer(tx, replacing, message, outcome.storedText, posted, this.now()),
          recordUsage(tx),
          jobId === null ? undefined : tx.jobs.finish(jobId, 'done', this.now()),
        ]),
      { commitWithStatements: replacing === undefined && posted.length <= 1 },
    );
    return { kind: 'answered', postedIds: posted, ...(stopped ? { stopped: true as const } : {}) };
  }
}
