/** THINKING: the parameters each model gets are valid on it (checked by the fake's independent rule table). */
import { describe, expect, it } from 'vitest';
import { answerNotes, THINKING_SETTINGS, thinkingParams, withThinking } from '../../src/core/answer-controls/thinking.js';
import type { ClaudeRequest } from '../../src/core/request/types.js';
import { knownModelIds, modelRules } from '../../src/core/models.js';
import { validateRequest } from '../fakes/anthropic-rules.js';

const request = (model: string): ClaudeRequest => ({
  model,
  max_tokens: 1024,
  system: [{ type: 'text', text: 'You are helpful.' }],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }],
  cache_control: { type: 'ephemeral' },
});

describe('THINKING', () => {
  const cases = knownModelIds().flatMap((id) => THINKING_SETTINGS.map((setting) => [id, setting] as const));
  it.each(cases)('%s with THINKING=%s sends a request the API accepts', (id, setting) => {
    const body = withThinking(request(id), modelRules(id), setting);
    expect(validateRequest(body as unknown as Record<string, unknown>)).toBeUndefined();
    const sent = body as unknown as { thinking?: { type: string }; output_config?: { effort: string } };
    if (setting === 'off') expect(sent.thinking).toBeUndefined();
    else if (['claude-sonnet-4-5', 'claude-opus-4-5', 'claude-haiku-4-5'].includes(id)) expect(sent.thinking).toBeUndefined();
    else expect(sent).toMatchObject({ thinking: { type: 'adaptive' }, output_config: { effort: expect.any(String) } });
  });

  it('would be refused without the per-model flags (the check can fail)', () => {
    const forced = { ...request('claude-haiku-4-5'), thinking: { type: 'adaptive' }, output_config: { effort: 'high' } };
    expect(validateRequest(forced)?.message).toMatch(/adaptive thinking is not supported/);
    const xhigh = { ...request('claude-opus-4-6'), thinking: { type: 'adaptive' }, output_config: { effort: 'xhigh' } };
    expect(validateRequest(xhigh)?.message).toMatch(/xhigh/);
  });

  it.each([
    ['claude-opus-4-8', 'xhigh', 'xhigh'],
    ['claude-opus-4-6', 'xhigh', 'high'],
    ['claude-sonnet-4-6', 'max', 'max'],
    ['claude-unknown-9', 'high', undefined],
  ] as const)('%s: %s → effort %s', (id, setting, effort) => {
    expect(thinkingParams(modelRules(id), setting)?.output_config.effort).toBe(effort);
  });

  it.each([
    [{ stopReason: 'end_turn' }, []],
    [{ stopReason: 'stopped_by_user' }, ['Stopped.']],
    [{ stopReason: 'end_turn', thinkingMs: 200 }, ['Thought for 1 s.']],
    [{ stopReason: 'end_turn', thinkingMs: 12_400 }, ['Thought for 12 s.']],
  ] as const)('notes for %o', (result, notes) => {
    expect(answerNotes(result)).toEqual(notes);
  });
});
