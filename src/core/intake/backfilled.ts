/**
 * Messages a history read stored before their own create event was taken in. A message posted
 * while the bot reads a thread's history is in that history, and its create event then finds it
 * stored: that is its first delivery, not a duplicate, so a mention among them is still
 * answered. The mark is a row in the database (`processed_events`, in the history read's
 * transaction), not memory: with several replicas the history read and the create may run on
 * different processes, and whichever create deletes the mark first is the first delivery, which
 * the database decides across processes. Only recent messages are marked (an old message's
 * create is not coming any more), so a long history costs no extra rows; marks nobody took are
 * pruned with the other delivery keys. "Recent" is measured from the message whose create
 * asked for the history (platform time on both sides, so this process's clock does not matter).
 */
import type { Store } from '../../store/index.js';

/** A create trails its message by seconds (Slack retries for minutes); messages older than this before the asking one get no mark. */
export const BACKFILL_MARK_WINDOW_MS = 10 * 60 * 1000;

const markOf = (conversationId: number, platformMessageId: string) => `backfilled:${conversationId}:${platformMessageId}`;

export class BackfilledMessages {
  constructor(private readonly now: () => number) {}

  /**
   * Marks a message a history read just stored (inside its transaction `tx`), unless it is older
   * than the window before `askedAt`, the time of the message whose create read the history.
   */
  async add(tx: Store, conversationId: number, message: { readonly messageId: string; readonly createdAt: number }, askedAt: number): Promise<void> {
    if (message.createdAt < askedAt - BACKFILL_MARK_WINDOW_MS) return;
    await tx.events.claim(markOf(conversationId, message.messageId), this.now());
  }

  /** True (once, across processes) when a history read stored this message and its create had not come yet. */
  take(tx: Store, conversationId: number, platformMessageId: string): Promise<boolean> {
    return tx.events.release(markOf(conversationId, platformMessageId));
  }
}
