/**
 * Messages `/settings` does not let the bot answer (answers off in the channel, or an author
 * without an allowed role): what to say instead, recorded like any message of a conversation,
 * and the reason posted once.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { Conversation } from '../../store/types.js';
import { threadKey } from '../chat/thread-refs.js';
import { answerRefusal, type AnswerRefusal } from '../settings/access.js';
import type { SettingsService } from '../settings/service.js';
import type { HandleOutcome, InboundMessage, PostedIds, ReplySink } from '../types.js';
import { toNewMessage } from './new-message.js';

/** What intake does with a refused message: tell the asker why, or nothing more. */
export type RefusalOutcome = { kind: 'refused'; refusal: AnswerRefusal } | { kind: 'done'; outcome: HandleOutcome };

export class SettingsRefusals {
  constructor(
    private readonly store: Store,
    private readonly settings: SettingsService,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** `/settings` forbids answering `msg`: what to say instead, or undefined. */
  async refusalFor(msg: InboundMessage): Promise<AnswerRefusal | undefined> {
    return answerRefusal(await this.settings.effective(msg.thread.platform, msg.thread.workspaceId, msg.thread.channelId), msg);
  }

  /**
   * Recorded when its thread is a conversation already (the history stays whole for when answers
   * are back), otherwise left alone; a mention or DM is told why, once (redeliveries are claimed
   * like any event).
   */
  record(msg: InboundMessage, conversation: Conversation | undefined, addressed: boolean, refusal: AnswerRefusal): Promise<RefusalOutcome> {
    return this.store.transaction(async (tx): Promise<RefusalOutcome> => {
      const duplicate = { kind: 'done', outcome: { kind: 'ignored', reason: 'duplicate' } } as const;
      for (const key of msg.dedupeKeys ?? []) if (!(await tx.events.claim(key, this.now()))) return duplicate;
      if (conversation !== undefined) {
        if ((await tx.messages.insert(toNewMessage(conversation.id, msg))) === undefined) return duplicate;
        await tx.conversations.touch(conversation.id, msg.createdAt);
      } else if (!(await tx.events.claim(`refused:${threadKey(msg.thread)}:${msg.messageId}`, this.now()))) {
        return duplicate;
      }
      this.logger.info({ platform: msg.thread.platform, channel: msg.thread.channelId, user: msg.author.id, code: refusal.code }, 'not answering: /settings');
      return addressed ? { kind: 'refused', refusal } : { kind: 'done', outcome: { kind: 'recorded' } };
    });
  }

  async post(refusal: AnswerRefusal, makeSink: () => ReplySink): Promise<HandleOutcome> {
    let postedIds: PostedIds = [];
    try {
      postedIds = await makeSink().fail(refusal.text, refusal.code);
    } catch (error) {
      this.logger.error({ err: error }, 'could not say why the bot does not answer');
    }
    return { kind: 'refused', code: refusal.code, postedIds };
  }
}
