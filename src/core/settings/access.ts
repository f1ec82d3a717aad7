/**
 * Who gets an answer where, by `/settings`: `answers off` turns the bot off in a channel or
 * server, and `roles` (Discord) limits answers to members holding one of the roles (admins
 * always pass). The refusal never names a role: members may not be able to see it.
 */
import type { InboundMessage } from '../types.js';
import type { EffectiveSettings } from './resolve.js';

export interface AnswerRefusal {
  readonly code: 'answers_off' | 'not_allowed';
  readonly text: string;
}

export const ANSWERS_OFF_TEXT = 'I am turned off here, so I will not answer. An admin can turn me back on with `/settings`.';
export const NOT_ALLOWED_TEXT = 'Sorry, I only answer some members here. Ask an admin if you need access.';

export function answerRefusal(settings: Pick<EffectiveSettings, 'answers' | 'roles'>, msg: Pick<InboundMessage, 'thread' | 'author'>): AnswerRefusal | undefined {
  if (!settings.answers.value) return { code: 'answers_off', text: ANSWERS_OFF_TEXT };
  const allowed = settings.roles.value;
  if (msg.thread.platform !== 'discord' || allowed.length === 0 || msg.author.isAdmin === true) return undefined;
  const held = msg.author.roleIds ?? [];
  return allowed.some((role) => held.includes(role)) ? undefined : { code: 'not_allowed', text: NOT_ALLOWED_TEXT };
}
