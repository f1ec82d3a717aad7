/**
 * The buttons on answers, platform-free: Stop ends an answer still streaming, Regenerate asks
 * for a fresh one (one at a time per answer), 👍/👎 store each person's latest vote. Stop and
 * Regenerate are for the person who asked and for admins. Presses are decided from the stored
 * question their id names, so they work after a restart. Stop needs the process the answer
 * streams in: a press that reaches another replica (PostgreSQL) is passed on through the store.
 * A regeneration holds a lock named by its question among the replicas, so a second press on
 * another replica does not start a second one, and a Stop there finds it.
 */
import type { Logger } from 'pino';
import type { ResourceLocks, Store } from '../../store/index.js';
import type { StoredAnswer } from '../../store/answers.js';
import type { Conversation, StoredMessage } from '../../store/types.js';
import type { ControlPress, ControlReply } from '../types.js';
import { parseControlId } from './control-ids.js';

/** The note (store.tellReplicas) that passes a Stop press on to the replica writing the answer: its body is the question's row id. */
const STOP_NOTE = 'stop';
/** Store.heldLocks namespace: the questions being answered again, one lock each. */
const REGENERATIONS = 'regenerations';

/** A question's lock (advisory lock keys are 31-bit: two questions 2^31 ids apart share one, and the later press is told to wait). */
const lockOf = (questionId: number): number => questionId % 0x80000000;

export const FORGOTTEN_TEXT = 'I no longer have this answer (the thread was forgotten or is older than what I keep), so this button does nothing now.';

export interface AnswerControlsOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  /** Answers `question` again in place of `answer`; resolves when it is done (shown and stored, or explained). */
  readonly regenerate: (conversation: Conversation, question: StoredMessage, answer: StoredAnswer) => Promise<void>;
  /** Why no new answer may be written in this conversation now (`/settings`: answers off), if so. */
  readonly answersRefused?: (conversation: Conversation) => Promise<string | undefined>;
}

interface LiveAnswer {
  readonly controller: AbortController;
  readonly askerId: string;
}

export interface TrackedAnswer {
  /** Aborted by a Stop press, or when the platform's own stop (the sink's signal) fires. */
  readonly signal: AbortSignal;
  release(): void;
}

export class AnswerControls {
  private readonly live = new Map<number, LiveAnswer>();
  private readonly regenerating = new Set<number>();
  private readonly regenerations: ResourceLocks;

  constructor(private readonly options: AnswerControlsOptions) {
    options.store.onReplicaNote(STOP_NOTE, (body) => this.stopHere(Number(body)));
    this.regenerations = options.store.heldLocks(REGENERATIONS);
  }

  /** Registers an answer to `questionId` as streaming, so Stop can reach it. */
  track(questionId: number, askerId: string, platformStop?: AbortSignal): TrackedAnswer {
    const controller = new AbortController();
    const onPlatformStop = () => controller.abort();
    if (platformStop?.aborted === true) controller.abort();
    platformStop?.addEventListener('abort', onPlatformStop, { once: true });
    const entry = { controller, askerId };
    this.live.set(questionId, entry);
    return {
      signal: controller.signal,
      release: () => {
        platformStop?.removeEventListener('abort', onPlatformStop);
        if (this.live.get(questionId) === entry) this.live.delete(questionId);
      },
    };
  }

  /** A Stop press another replica passed on: stops the answer if it streams here. */
  private stopHere(questionId: number): void {
    const live = this.live.get(questionId);
    if (live === undefined) return;
    this.options.logger.info({ question: questionId }, 'answer stop pressed on another replica');
    live.controller.abort();
  }

  /**
   * Takes the question's regeneration lock; false while another replica holds it. A database
   * that cannot be asked does not stop the regeneration: storing it needs the database anyway.
   */
  private async lockRegeneration(questionId: number, log: Logger): Promise<boolean> {
    try {
      return await this.regenerations.tryAcquire(lockOf(questionId));
    } catch (error) {
      log.warn({ err: error }, 'could not lock the regeneration among replicas; regenerating anyway');
      return true;
    }
  }

  /** Whether another replica regenerates this question's answer now. */
  private async regeneratedElsewhere(questionId: number): Promise<boolean> {
    const holders = await this.regenerations.survey();
    for (const [replica, held] of holders.replicas) if (replica !== holders.self && held.includes(lockOf(questionId))) return true;
    return false;
  }

  /** Decides a press; quick (a regeneration runs on after the reply). `text` is for the presser alone. */
  async press(press: ControlPress): Promise<ControlReply> {
    const parsed = parseControlId(press.controlId);
    const log = this.options.logger.child({ platform: press.platform, user: press.actor.id, control: press.controlId });
    if (parsed === undefined) {
      log.warn('a press on a button this bot does not know');
      return { text: "I don't recognise this button." };
    }
    const { store } = this.options;
    const question = await store.messages.get(parsed.questionId);
    const conversation = question === undefined ? undefined : await store.conversations.get(question.conversationId);
    if (
      question === undefined ||
      question.deletedAt !== null ||
      conversation === undefined ||
      conversation.platform !== press.platform ||
      conversation.workspaceId !== press.workspaceId
    ) {
      return { text: FORGOTTEN_TEXT };
    }
    const mayControl = press.actor.isAdmin || press.actor.id === question.authorId;
    switch (parsed.action) {
      case 'stop': {
        const live = this.live.get(question.id);
        // Replicas: another one may be writing it: its job is open until the answer is stored, a regeneration holds its lock.
        const elsewhere = live === undefined && store.backend === 'postgres' && ((await store.jobs.openFor(question.id)) || (await this.regeneratedElsewhere(question.id)));
        if (live === undefined && !elsewhere) return { text: 'This answer is already finished.' };
        if (!mayControl) return { text: 'Only the person who asked or an admin can stop this answer.' };
        if (live !== undefined) {
          log.info('answer stop pressed');
          live.controller.abort();
        } else {
          log.info('answer stop pressed; passed on to the replica writing the answer');
          await store.tellReplicas(STOP_NOTE, String(question.id));
        }
        return {};
      }
      case 'regen': {
        const answer = await store.answers.answerTo(question.id);
        if (answer === undefined || answer.text === '') return { text: FORGOTTEN_TEXT };
        if (!mayControl) return { text: 'Only the person who asked or an admin can regenerate this answer.' };
        const refused = await this.options.answersRefused?.(conversation);
        if (refused !== undefined) return { text: refused };
        const busy = { text: 'This answer is already being written; wait for it to finish.' };
        // Checked and marked with no await between: two quick presses start one regeneration.
        if (this.live.has(question.id) || this.regenerating.has(question.id)) return busy;
        this.regenerating.add(question.id);
        if (!(await this.lockRegeneration(question.id, log))) {
          this.regenerating.delete(question.id);
          return busy;
        }
        log.info('regenerating an answer');
        void this.options
          .regenerate(conversation, question, answer)
          .catch((error: unknown) => log.error({ err: error }, 'regeneration failed'))
          .finally(() => {
            this.regenerating.delete(question.id);
            this.regenerations.release(lockOf(question.id)).catch((error: unknown) => log.warn({ err: error }, 'could not release a regeneration’s lock; it ends with its connection'));
          });
        return {};
      }
      case 'up':
      case 'down': {
        const answer = await store.answers.answerTo(question.id);
        if (answer === undefined || answer.text === '') return { text: FORGOTTEN_TEXT };
        await store.answers.vote({
          answerId: answer.id,
          userId: press.actor.id,
          vote: parsed.action,
          platform: conversation.platform,
          workspaceId: conversation.workspaceId,
          channelId: conversation.channelId,
          at: this.options.now(),
        });
        return { text: parsed.action === 'up' ? 'Thanks! Noted your 👍 on this answer.' : 'Thanks. Noted your 👎 on this answer; Regenerate asks for another one.' };
      }
    }
  }
}
