/**
 * What an answer leaves in the store: the reply rows, a failure told to the user (or a failed
 * regeneration's old answer put back), and the tokens it used.
 */
import type { Logger } from 'pino';
import type { ThreadlineError } from '../../errors.js';
import type { StoredAnswer } from '../../store/answers.js';
import type { Store } from '../../store/index.js';
import type { Conversation, StoredMessage } from '../../store/types.js';
import { replaceStoredAnswer } from '../answer-controls/replace-answer.js';
import type { HandleOutcome, PostedIds, ReplySink } from '../types.js';
import type { TurnResult } from '../web-tools/index.js';
import { ChatPart } from './context.js';

export class AnswerRecords extends ChatPart {
  async failWith(
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
        await this.store.transaction((tx) => replaceStoredAnswer(tx, replacing, message, replacing.text, posted, this.now()));
      } catch (error) {
        log.error({ err: error }, 'could not restore the answer after a failed regeneration');
      }
      if (jobId !== null) await this.store.jobs.finish(jobId, 'failed', this.now());
      return { kind: 'failed', code: failure.code, postedIds: posted };
    }
    try {
      posted = await sink.fail(userText, failure.code);
      // Recorded with no text, so a later history read does not bring the apology back as an answer.
      await this.storeReply(message.conversationId, message, '', posted);
    } catch (error) {
      log.error({ err: error }, 'could not tell the user about the failure');
    }
    if (jobId !== null) await this.store.jobs.finish(jobId, 'failed', this.now());
    return { kind: 'failed', code: failure.code, postedIds: posted };
  }

  /** Records the posted reply in a transaction of its own. */
  async storeReply(conversationId: number, answering: StoredMessage, text: string, posted: PostedIds): Promise<void> {
    if (posted.length === 0) return;
    await this.store.transaction((tx) => this.recordReply(tx, conversationId, answering, text, posted));
  }

  /** Records the posted reply inside the caller's transaction `tx` (no savepoint: one round trip less each way on PostgreSQL). */
  async recordReply(tx: Store, conversationId: number, answering: StoredMessage, text: string, posted: PostedIds): Promise<void> {
    const [first, ...rest] = posted;
    if (first === undefined) return;
    const at = this.now();
    const base = {
      conversationId,
      authorId: 'self',
      authorName: 'threadline',
      authorKind: 'self',
      role: 'assistant',
      createdAt: at,
      replyToMessageId: answering.id,
    } as const;
    // Sent together with the first row: a one-part reply sends every statement at once (see Answering).
    const touched = tx.conversations.touch(conversationId, at);
    const firstId = await tx.messages.insert({ ...base, platformMessageId: first, text });
    for (const id of rest) await tx.messages.insert({ ...base, platformMessageId: id, text: '', replyPartOf: firstId ?? null });
    await touched;
  }

  async recordUsage(store: Store, conversation: Conversation, message: StoredMessage, result: TurnResult, model: string): Promise<void> {
    await store.usage.record({
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
}
