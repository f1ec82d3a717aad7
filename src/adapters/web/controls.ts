/**
 * The buttons under a finished answer in the playground (Regenerate, 👍, 👎): their ids are the
 * core's control ids, so a press goes to `ChatCore.pressControl` exactly as a Discord or Slack
 * button press does, and the page never has to know how an id is built.
 */
import { controlId } from '../../core/answer-controls/control-ids.js';
import type { ThreadEntry } from '../../core/types.js';

/** The control ids of one finished answer, as the page puts them on its buttons. */
export interface AnswerControlIds {
  readonly regen: string;
  readonly up: string;
  readonly down: string;
}

export function answerControlIds(answerId: string): AnswerControlIds {
  return { regen: controlId('regen', answerId), up: controlId('up', answerId), down: controlId('down', answerId) };
}

/** A thread entry as the page reads it: a stored answer with text carries its buttons (a failed one, stored empty, has none). */
export function withControls(entry: ThreadEntry): ThreadEntry & { readonly controls?: AnswerControlIds } {
  const { answerId, ...rest } = entry;
  if (answerId === undefined || entry.text === '') return rest;
  return { ...rest, controls: answerControlIds(answerId) };
}
