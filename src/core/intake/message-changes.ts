/**
 * Edits and deletes, applied in a thread's intake order (`chat/intake.ts` runs them on the same
 * per-thread queue as creates): a change to a message still being taken in lands after it is
 * stored, and a change to a message not seen yet waits as a tombstone for its create.
 *
 * Replicas: the create may reach another replica than its change did (Slack's events behind a
 * load balancer, or spread over several Socket Mode connections). A tombstone is therefore told
 * to every replica (a note through the store), and each applies it in its own intake order, as
 * if the change had reached it: to the message if it has it by then, else as a tombstone of its
 * own. A message created and deleted at once is then never answered on any replica, unless its
 * create was taken in before the delete was heard; then the delete lands as a late one would.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { StoredMessage } from '../../store/types.js';
import { toNewAttachment } from '../attachments.js';
import type { AttachmentInput, ThreadRef } from '../types.js';
import { decodeEarlyChange, encodeEarlyChange } from './shared-changes.js';
import { Tombstones, type EarlyChange } from './tombstones.js';

/** The note (store.tellReplicas) that tells the replicas of a tombstone. */
const EARLY_CHANGE_NOTE = 'early-change';

export class MessageChanges {
  private readonly tombstones = new Tombstones();

  /** `inOrder` runs a change heard from another replica on this thread's intake queue. */
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly inOrder: (thread: ThreadRef, change: () => Promise<void>) => Promise<void>,
  ) {
    store.onReplicaNote(EARLY_CHANGE_NOTE, (body) => this.heard(body));
  }

  async edit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): Promise<void> {
    await this.apply(thread, messageId, { kind: 'edited', at: this.now(), text, ...(attachments === undefined ? {} : { attachments }) });
  }

  async delete(thread: ThreadRef, messageId: string): Promise<void> {
    await this.apply(thread, messageId, { kind: 'deleted', at: this.now() });
  }

  /** `change` to the stored message, or a tombstone that the other replicas are told of. */
  private async apply(thread: ThreadRef, messageId: string, change: EarlyChange): Promise<void> {
    const message = await this.find(thread, messageId);
    if (message !== undefined) return this.applyTo(message, change);
    this.tombstones.remember(thread, messageId, change);
    await this.share(thread, messageId, change);
  }

  private async applyTo(message: StoredMessage, change: EarlyChange): Promise<void> {
    if (message.deletedAt !== null) return;
    if (change.kind === 'deleted') await this.store.messages.softDelete(message.id, change.at);
    else if (message.authorKind !== 'self') await this.store.messages.edit(message.id, change.text, change.at, change.attachments?.map(toNewAttachment));
  }

  private async share(thread: ThreadRef, messageId: string, change: EarlyChange): Promise<void> {
    try {
      if (!(await this.store.tellReplicas(EARLY_CHANGE_NOTE, encodeEarlyChange(thread, messageId, change))) && this.store.backend === 'postgres') {
        this.logger.warn({ thread, message: messageId }, 'an edit too long to tell the other replicas about: one that takes the message in keeps its first text');
      }
    } catch (error) {
      this.logger.warn({ err: error, thread, message: messageId }, 'could not tell the other replicas about a change to a message not taken in yet');
    }
  }

  /**
   * A tombstone another replica told of. Remembered at once: a create of the message that this
   * replica takes in behind the cache barrier that brought the note finds it (intake checks
   * tombstones after its barrier, before it commits). A create taken in before the note came
   * gets the change in intake order, as a late change would.
   */
  private heard(body: string): void {
    const heard = decodeEarlyChange(body);
    if (heard === undefined) {
      this.logger.warn('a note about a message change that this version cannot read');
      return;
    }
    const { thread, messageId, change } = heard;
    this.tombstones.remember(thread, messageId, change);
    this.inOrder(thread, async () => {
      await this.store.syncCaches();
      const message = await this.find(thread, messageId);
      // Not stored here: the tombstone waits for its create.
      if (message === undefined) return;
      const pending = this.tombstones.take(thread, messageId);
      if (pending !== undefined) await this.applyTo(message, pending);
    }).catch((error: unknown) => this.logger.warn({ err: error, thread, message: messageId }, 'could not apply a message change another replica heard of'));
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
