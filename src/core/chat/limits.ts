/** Per-user and per-channel rates and the daily token budget, checked at intake, and the reply to a message over them. */
import type { Store } from '../../store/index.js';
import { NOT_NEW, type NewMessageRow } from '../../store/rate-limits.js';
import type { StoredMessage } from '../../store/types.js';
import { RequestRateLimits } from '../rate-limits.js';
import type { HandleOutcome, InboundMessage, PostedIds, ReplySink } from '../types.js';
import type { AnswerRecords } from './answer-records.js';
import { ChatPart, type ChatContext } from './context.js';
import { DAY_MS, humanDuration, utcDayStart } from '../durations.js';

/** Why a message is not answered now, and when it could be. */
export interface OverLimit {
  readonly code: 'rate_limited' | 'budget_exhausted';
  readonly retryAfterMs: number;
}

export class Limits extends ChatPart {
  private readonly rates: RequestRateLimits;

  constructor(
    context: ChatContext,
    private readonly records: AnswerRecords,
  ) {
    super(context);
    this.rates = new RequestRateLimits({ user: this.options.limits?.userPerMinute ?? 0, channel: this.options.limits?.channelPerMinute ?? 0 }, this.now);
  }

  /**
   * `undefined` when the message may be answered now. `tx`: the intake transaction it is checked
   * in. `forNewRow` (PostgreSQL): counted only if `tx` inserted that message, NOT_NEW otherwise.
   */
  checkLimits(tx: Store, msg: InboundMessage): Promise<OverLimit | undefined>;
  checkLimits(tx: Store, msg: InboundMessage, forNewRow: NewMessageRow): Promise<OverLimit | typeof NOT_NEW | undefined>;
  async checkLimits(tx: Store, msg: InboundMessage, forNewRow?: NewMessageRow): Promise<OverLimit | typeof NOT_NEW | undefined> {
    const budget = this.options.limits?.dailyTokenBudget ?? 0;
    if (budget > 0) {
      const dayStart = utcDayStart(this.now());
      if ((await tx.usage.totalSince(msg.thread.platform, msg.thread.workspaceId, dayStart)) >= budget) {
        return { code: 'budget_exhausted', retryAfterMs: dayStart + DAY_MS - this.now() };
      }
    }
    const wait = await this.rates.take(
      tx,
      {
        user: `${msg.thread.platform}:${msg.thread.workspaceId}:${msg.author.id}`,
        channel: `${msg.thread.platform}:${msg.thread.workspaceId}:${msg.thread.channelId}`,
      },
      forNewRow,
    );
    if (wait === NOT_NEW) return NOT_NEW;
    return wait > 0 ? { code: 'rate_limited', retryAfterMs: wait } : undefined;
  }

  async refuseOverLimit(messageId: number, code: 'rate_limited' | 'budget_exhausted', retryAfterMs: number, makeSink: () => ReplySink): Promise<HandleOutcome> {
    const message = (await this.store.messages.get(messageId)) as StoredMessage;
    const wait = humanDuration(retryAfterMs);
    const text =
      code === 'budget_exhausted'
        ? `This ${(await this.store.conversations.get(message.conversationId))?.platform === 'discord' ? 'server' : 'workspace'} has used today's Claude budget. It resets at midnight UTC, in ${wait}.`
        : `You're asking faster than I can keep up with. Please try again in ${wait}.`;
    this.logger.info({ code, user: message.authorId, retryAfterMs }, 'over a limit; not answering');
    let posted: PostedIds = [];
    try {
      posted = await makeSink().fail(text, code);
      await this.records.storeReply(message.conversationId, message, '', posted);
    } catch (error) {
      this.logger.error({ err: error }, 'could not tell the user about the limit');
    }
    return { kind: 'limited', code, retryAfterMs, postedIds: posted };
  }
}
