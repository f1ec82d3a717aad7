/**
 * The buttons on answers, platform-free: Stop ends an answer still streaming, Regenerate asks
 * for a fresh one (one at a time per question), 👍/👎 store each person's latest vote. Stop and
 * Regenerate are for the person who asked and for admins. Presses are decided from the stored
 * question their id names, so they work after a restart. Stop needs the process the answer
 * streams in: a press that reaches another replica (PostgreSQL) is passed on through the store.
 * A regeneration is a job of the question (chat/regenerations.ts), so either finds it open on any
 * replica.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { StoredAnswer } from '../../store/answers.js';
import type { Conversation, StoredMessage } from '../../store/types.js';
import type { RegenerationStart } from '../chat/regenerations.js';
import type { ControlPress, ControlReply } from '../types.js';
import { parseControlId } from './control-ids.js';

/** The note (store.tellReplicas) that passes a Stop press on to the replica writing the answer: its body is the question's row id. */
const STOP_NOTE = 'stop';
export const FORGOTTEN_TEXT = 'I no longer have this answer (the thread was forgotten or is older than what I keep), so this button does nothing now.';

export interface AnswerControlsOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  /** Starts answering `question` again in place of `answer` (Regenerations.start); `busy` while an answer to it is being written. */
  readonly regenerate: (conversation: Conversation, question: StoredMessage, answer: StoredAnswer) => Promise<RegenerationStart>;
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

  constructor(private readonly options: AnswerControlsOptions) {
    options.store.onReplicaNote(STOP_NOTE, (body) => this.stopHere(Number(body)));
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
        // Replicas: another one may be writing it (an answer or a regeneration): its job is open until the answer is stored.
        const elsewhere = live === undefined && store.backend === 'postgres' && (await store.jobs.openFor(question.id));
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
        if (this.live.has(question.id)) return busy;
        const started = await this.options.regenerate(conversation, question, answer);
        if (started === 'busy') return busy;
        if (started === 'started') log.info('regenerating an answer');
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
