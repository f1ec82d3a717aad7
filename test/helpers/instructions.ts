/** What a mid-thread /instructions change must do to the next request, the same on both platforms. */
import { expect } from 'vitest';
import { validateRequest } from '../fakes/anthropic-rules.js';

type Body = { system: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ text?: string }> }> };

/**
 * `before` and `after` are the requests for the second and third turns of a thread, with the
 * change made in between. Models that accept mid-conversation system messages keep the first
 * `system` and the cached prefix byte for byte and get the change after the newest user turn;
 * the others get a rebuilt top-level `system`.
 */
export function expectChangeApplied(model: string, beforeBody: unknown, afterBody: unknown, instructions: string): void {
  const before = beforeBody as Body;
  const after = afterBody as Body;
  expect(validateRequest(afterBody as Record<string, unknown>)).toBeUndefined();
  if (model === 'claude-opus-4-8') {
    expect(after.system).toEqual(before.system);
    expect(after.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'system']);
    expect(after.messages.at(-1)?.content[0]?.text).toContain(instructions);
    expect(JSON.stringify(after.messages.slice(0, 3))).toBe(JSON.stringify(before.messages));
  } else {
    expect(after.system[0]?.text).toContain(instructions);
    expect(after.messages.some((m) => m.role === 'system')).toBe(false);
  }
}
