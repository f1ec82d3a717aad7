/**
 * Edits and deletes, applied in a thread's intake order (`chat/intake.ts` runs them on the same
 * per-thread queue as creates): a change to a message still being taken in lands after it is
 * stored, and a change to a message not seen yet waits as a tombstone for its create.
 */
import type { Store } from '../../store/index.js';
import { toNewAttachment } from '../attachments.js';
import type { AttachmentInput, ThreadRef } from '../types.js';
import { Tombstones, type EarlyChange } from './tombstones.js';

export class MessageChanges {
  private readonly tombstones = new Tombstones();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  async edit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): Promise<void> {
    const message = await this.find(thread, messageId);
    if (message === undefined) {
      this.tombstones.remember(thread, messageId, { kind: 'edited', at: this.now(), text, ...(attachments === undefined ? {} : { attachments }) });
      return;
    }
    if (message.deletedAt !== null || message.authorKind === 'self') return;
    await this.store.messages.edit(message.id, text, this.now(), attachments?.map(toNewAttachment));
  }

  async delete(thread: ThreadRef, messageId: string): Promise<void> {
    const message = await this.find(thread, messageId);
    if (message === undefined) {
      this.tombstones.remember(thread, messageId, { kind: 'deleted', at: this.now() });
      return;
    }
    if (message.deletedAt !== null) return;
    await this.store.messages.softDelete(message.id, this.now());
  }

  /**
   * True when this message was deleted before it arrived, in a thread with nothing stored to
   * record it in: it is dropped (and its tombstone with it) before anything is read or created.
   */
  takeDeletedEarly(thread: ThreadRef, messageId: string): boolean {
    if (this.tombstones.peek(thread, messageId)?.kind !== 'deleted') return false;
    this.tombstones.take(thread, messageId);
    return true;
  }

  /** True when this message was deleted before it arrived (its tombstone stays for applyEarly). */
  deletedEarly(thread: ThreadRef, messageId: string): boolean {
    return this.tombstones.peek(thread, messageId)?.kind === 'deleted';
  }

  /**
   * Applies a change that arrived before its message, now that the message is stored (`rowId`),
   * inside the create's transaction (`tx`). Returns the change applied, if any.
   */
  async applyEarly(tx: Store, thread: ThreadRef, messageId: string, rowId: number): Promise<EarlyChange | undefined> {
    const change = this.tombstones.take(thread, messageId);
    if (change === undefined) return undefined;
    if (change.kind === 'deleted') await tx.messages.softDelete(rowId, change.at);
    else await tx.messages.edit(rowId, change.text, change.at, change.attachments?.map(toNewAttachment));
    return change;
  }

  private async find(thread: ThreadRef, messageId: string) {
    const conversation = await this.store.conversations.find(thread);
    return conversation === undefined ? undefined : this.store.messages.find(conversation.id, messageId);
  }
}
