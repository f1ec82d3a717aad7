/**
 * The THINKING setting: on models with adaptive thinking, `thinking: {type: "adaptive"}` and the
 * effort level (anthropic-api-rules §11, §11b); on the others nothing, so every request stays
 * valid on every model. Thinking blocks are never part of the stored answer: the model client
 * keeps only text, and the answer ends with a discreet note of how long the model thought.
 */
import type { ClaudeRequest } from '../request/types.js';
import { STOPPED_BY_USER, type ModelResult } from '../model-client.js';
import type { ModelRules } from '../models.js';

export const THINKING_SETTINGS = ['off', 'low', 'medium', 'high', 'xhigh', 'max'] as const;
export type ThinkingSetting = (typeof THINKING_SETTINGS)[number];
export type Effort = Exclude<ThinkingSetting, 'off'>;

export const STOPPED_NOTE = 'Stopped.';

/** What the request carries for `setting` on this model (nothing when off or unsupported). */
export function thinkingParams(rules: ModelRules, setting: ThinkingSetting): { thinking: { type: 'adaptive' }; output_config: { effort: Effort } } | undefined {
  if (setting === 'off' || !rules.adaptiveThinking) return undefined;
  // `xhigh` exists only on some models; elsewhere the nearest level below it.
  const effort: Effort = setting === 'xhigh' && !rules.xhighEffort ? 'high' : setting;
  return { thinking: { type: 'adaptive' }, output_config: { effort } };
}

export function withThinking(request: ClaudeRequest, rules: ModelRules, setting: ThinkingSetting): ClaudeRequest {
  const params = thinkingParams(rules, setting);
  return params === undefined ? request : ({ ...request, ...params } as ClaudeRequest);
}

/** Notes under an answer that come from how it was written: stopped by the user, time spent thinking. */
export function answerNotes(result: Pick<ModelResult, 'stopReason' | 'thinkingMs'>): string[] {
  const notes: string[] = [];
  if (result.stopReason === STOPPED_BY_USER) notes.push(STOPPED_NOTE);
  if (result.thinkingMs !== undefined) notes.push(`Thought for ${Math.max(1, Math.round(result.thinkingMs / 1000))} s.`);
  return notes;
}
