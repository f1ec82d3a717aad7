/**
 * A conversation's stored thread → its next Messages API request. The work a reply does here
 * hardly grows with the thread: each conversation keeps what its last reply worked out (thread
 * order, history turns, the request itself) and extends it, and its context budget follows what
 * the API counted (budget-calibration.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { ThreadlineError } from '../../errors.js';
import type { Store } from '../../store/index.js';
import type { Conversation, StoredAttachment, StoredMessage } from '../../store/types.js';
import type { AssembleResult, ClaudeRequest, HistoryTurn } from './types.js';
import type { AttachmentPipeline, Resolution } from '../attachment-pipeline.js';
import { BudgetCalibration } from '../budget-calibration.js';
import { ThreadOrder, threadUpTo } from '../history.js';
import type { ModelUsage } from '../model-client.js';
import type { ModelRules } from '../models.js';
import { RequestBuilder } from './request-builder.js';
import type { Platform, PlatformServices } from '../types.js';

/** Room left between the budget plus the answer and the model's context window. */
const WINDOW_MARGIN_TOKENS = 1000;
/** Conversations whose last reply is kept for the next one to extend. */
const REMEMBERED_CONVERSATIONS = 64;

/** One conversation's work from its last reply, which the next reply extends rather than redoes. */
interface ConversationMemo {
  readonly order: ThreadOrder;
  readonly requests: RequestBuilder;
  /** The rows the last history was built from, and their turns, index for index. */
  rows: readonly StoredMessage[];
  turns: readonly HistoryTurn[];
  /** Indexes in `rows` of the user messages with attachments (resolved anew every reply). */
  withAttachments: readonly number[];
}

export interface ConversationRequestsOptions {
  readonly store: Store;
  readonly pipeline: AttachmentPipeline;
  readonly maxTokens: number;
  readonly contextBudgetTokens: number;
  readonly platformServices: (platform: Platform) => PlatformServices | undefined;
}

export interface NextRequest {
  readonly assembled: AssembleResult;
  /** Sentences for the user about the message being answered (images that could not be used). */
  readonly userNotes: readonly string[];
}

export class ConversationRequests {
  /**
   * History turns by stored row (the thread cache keeps the rows): an unchanged message is the
   * same turn object reply after reply, which is what lets the next request extend the last one.
   */
  private readonly turnsByRow = new WeakMap<StoredMessage, HistoryTurn>();
  private readonly recent = new LRUCache<number, ConversationMemo>({ max: REMEMBERED_CONVERSATIONS });
  private readonly calibration = new BudgetCalibration();

  constructor(private readonly options: ConversationRequestsOptions) {}

  /** The request that answers `answeringId`, from the thread as stored now. */
  async next(conversation: Conversation, answeringId: number, system: string, log: Logger, rules: ModelRules): Promise<NextRequest> {
    const history = await this.historyTurns(conversation, answeringId);
    const { maxTokens } = this.options;
    const budgetTokens = this.calibration.budget(conversation.id, this.contextBudget(rules));
    const assembled = this.memoOf(conversation.id).requests.build({ rules, maxTokens, system, turns: history.turns, budgetTokens });
    if (assembled.omittedTurns > 0) log.info({ omittedTurns: assembled.omittedTurns }, 'older turns left out to fit the context budget');
    if (assembled.omittedImages.length > 0) log.info({ omittedAttachments: assembled.omittedImages.length }, 'images or documents left out to fit the request limits');
    return { assembled, userNotes: [...history.userNotes, ...leftOutNotes(assembled.omittedFromAnswered)] };
  }

  /** After a reply: how many input tokens the API counted for a request. */
  observe(conversationId: number, assembled: AssembleResult, usage: ModelUsage): void {
    this.calibration.observe(conversationId, assembled.estimatedInputTokens, usage.inputTokens + usage.cacheReadTokens + usage.cacheCreationTokens);
  }

  /** True when the API said the prompt was too long and this conversation's budget shrank for a retry. */
  shrinkAfterTooLong(failure: ThreadlineError, conversationId: number, assembled: AssembleResult, rules: ModelRules, log: Logger): boolean {
    const estimated = assembled.estimatedInputTokens;
    const budget = this.contextBudget(rules);
    if (failure.code !== 'model_bad_request' || !this.calibration.tooLong(conversationId, estimated, budget, failure.message)) return false;
    log.warn({ requestId: failure.requestId, estimated, budgetFactor: this.calibration.factor(conversationId) }, 'prompt too long for the model; trying again with a smaller context budget');
    return true;
  }

  /** The stored attachment behind a 400 "Unable to download the file" for an image URL, if that is the error. */
  async unreachableImage(failure: ThreadlineError, request: ClaudeRequest, conversationId: number): Promise<StoredAttachment | undefined> {
    if (failure.code !== 'model_bad_request' || !/Unable to download/i.test(failure.message)) return undefined;
    const where = /messages\.(\d+)\.content\.(\d+)/.exec(failure.message);
    const block = where === null ? undefined : request.messages[Number(where[1])]?.content[Number(where[2])];
    if ((block?.type !== 'image' && block?.type !== 'document') || block.source.type !== 'url') return undefined;
    const url = block.source.url;
    return (await this.options.store.messages.thread(conversationId))
      .flatMap((message) => message.attachments)
      .find((attachment) => attachment.url === url);
  }

  /** Drops what was kept of a conversation (it was forgotten). */
  forget(conversationId: number): void {
    this.recent.delete(conversationId);
  }

  private contextBudget(rules: ModelRules): number {
    const { contextBudgetTokens, maxTokens } = this.options;
    return Math.min(contextBudgetTokens, rules.contextWindowTokens - maxTokens - WINDOW_MARGIN_TOKENS);
  }

  /**
   * The thread's turns up to the message answered. A long thread is mostly the rows the last reply
   * used, in the same places: those keep their turns without their rows being read at all (a
   * reply's scattered reads of hundreds of rows cost more than the rest of the reply's history work),
   * except the ones with attachments, which are resolved anew each time (a link may have been refreshed).
   */
  private async historyTurns(conversation: Conversation, answeringId: number): Promise<{ turns: HistoryTurn[]; userNotes: readonly string[] }> {
    const memo = this.memoOf(conversation.id);
    const messages = threadUpTo(memo.order.order(await this.options.store.messages.thread(conversation.id)), answeringId);
    const kept = samePrefixLength(messages, memo.rows);
    const withAttachments = memo.withAttachments.filter((index) => index < kept);
    for (let index = kept; index < messages.length; index += 1) if (hasAttachments(messages[index] as StoredMessage)) withAttachments.push(index);
    const resolved = await this.options.pipeline.resolveThread(
      conversation.platform,
      this.options.platformServices(conversation.platform),
      withAttachments.map((index) => messages[index] as StoredMessage),
      answeringId,
    );
    const turns = memo.turns.slice(0, kept);
    for (const index of withAttachments) if (index < kept) turns[index] = this.turnOf(messages[index] as StoredMessage, resolved.byAttachment);
    for (let index = kept; index < messages.length; index += 1) turns.push(this.turnOf(messages[index] as StoredMessage, resolved.byAttachment));
    memo.rows = messages;
    memo.turns = turns;
    memo.withAttachments = withAttachments;
    return { turns, userNotes: resolved.userNotes };
  }

  /** A row's turn: the one it had before unless its attachments now resolve differently. */
  private turnOf(message: StoredMessage, resolutions: ReadonlyMap<number, Resolution>): HistoryTurn {
    const known = this.turnsByRow.get(message);
    if (known !== undefined && !hasAttachments(message)) return known;
    const parts = message.attachments.map((attachment) => resolutions.get(attachment.id));
    const turn: HistoryTurn = {
      role: message.role,
      authorId: message.authorId,
      authorName: message.authorName,
      text: message.text,
      images: parts.flatMap((part) => (part !== undefined && 'image' in part ? [part.image] : [])),
      documents: parts.flatMap((part) => (part !== undefined && 'document' in part ? [part.document] : [])),
      notes: parts.flatMap((part) => (part !== undefined && 'note' in part ? [part.note] : [])),
    };
    if (known !== undefined && isDeepStrictEqual(known, turn)) return known;
    this.turnsByRow.set(message, turn);
    return turn;
  }

  private memoOf(conversationId: number): ConversationMemo {
    let memo = this.recent.get(conversationId);
    if (memo === undefined) {
      memo = { order: new ThreadOrder(), requests: new RequestBuilder(), rows: [], turns: [], withAttachments: [] };
      this.recent.set(conversationId, memo);
    }
    return memo;
  }
}

/** How many leading rows `rows` shares with `before`, by identity (only the arrays are read). */
function samePrefixLength(rows: readonly StoredMessage[], before: readonly StoredMessage[]): number {
  const most = Math.min(rows.length, before.length);
  let index = 0;
  while (index < most && rows[index] === before[index]) index += 1;
  return index;
}

const hasAttachments = (message: StoredMessage): boolean => message.role === 'user' && message.attachments.length > 0;

function leftOutNotes(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const list = names.join(', ');
  return [`I couldn't include ${list}: one request to Claude can carry only so many images and PDF pages, and the newest were kept.`];
}
