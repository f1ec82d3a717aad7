import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InstructionsCommand } from '../../src/core/instructions.js';
import { validateRequest } from '../fakes/anthropic-rules.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

const admin = { id: 'u-admin', name: 'Ada', isAdmin: true };
const cmd = (over: Partial<InstructionsCommand>): InstructionsCommand => ({
  platform: 'discord', workspaceId: THREAD.workspaceId, channelId: THREAD.channelId, actor: admin, action: 'show', scope: 'workspace', ...over,
});

type Body = { system: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };

describe('instructions', () => {
  let h: Harness;
  afterEach(async () => h.close());

  describe('commands', () => {
    beforeEach(async () => {
      h = await createCoreHarness();
    });

    it.each<[string, Partial<InstructionsCommand>, RegExp, boolean]>([
      ['refuses non-admins', { action: 'set', text: 'x', actor: { ...admin, isAdmin: false } }, /Only members with the Manage Server permission/, false],
      ['refuses empty text', { action: 'set', text: '   ' }, /empty.*Usage/s, false],
      ['refuses text over the limit, naming it', { action: 'set', text: 'x'.repeat(8001) }, /at most 8000 characters; these are 8001/, false],
      ['sets server instructions', { action: 'set', text: 'Be brief.' }, /Server instructions set \(9 characters\)/, true],
      ['clears nothing gracefully', { action: 'clear', scope: 'channel' }, /no channel instructions to clear/, true],
    ])('%s', async (_name, over, expected, ok) => {
      const reply = await h.core.runInstructionsCommand(cmd(over));
      expect(reply.text).toMatch(expected);
      expect(reply.ok).toBe(ok);
    });

    it('shows both scopes, keeps history old → new, and does not store refused changes', async () => {
      await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'Be brief.' }));
      await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'Be very brief.' }));
      await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'Speak French.', scope: 'channel' }));
      await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'hacked', actor: { id: 'u-x', name: 'Mallory', isAdmin: false } }));
      const shown = (await h.core.runInstructionsCommand(cmd({ action: 'show' }))).text;
      expect(shown).toMatch(/Server instructions \(set by Ada, .* UTC\):\n> Be very brief\./);
      expect(shown).toMatch(/Channel instructions \(set by Ada.*\n> Speak French\./);
      expect(shown).not.toContain('hacked');
      await h.core.runInstructionsCommand(cmd({ action: 'clear' }));
      const history = (await h.core.runInstructionsCommand(cmd({ action: 'history' }))).text;
      expect(history.split('\n').slice(1)).toEqual([
        expect.stringMatching(/Ada cleared: “Be very brief\.” → \(none\)$/),
        expect.stringMatching(/Ada changed: “Be brief\.” → “Be very brief\.”$/),
        expect.stringMatching(/Ada set: \(none\) → “Be brief\.”$/),
      ]);
    });

    it('puts server instructions before channel instructions in the system prompt', async () => {
      await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'CHANNEL RULE', scope: 'channel' }));
      await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'SERVER RULE' }));
      await h.core.handle(inbound('hi', { mentionsBot: true }), { sink: recordingSink });
      const system = (h.anthropic.messageRequests()[0]?.body as unknown as Body).system[0]?.text ?? '';
      expect(system.indexOf('SERVER RULE')).toBeGreaterThan(0);
      expect(system.indexOf('CHANNEL RULE')).toBeGreaterThan(system.indexOf('SERVER RULE'));
    });
  });

  it.each([
    ['claude-opus-4-8', 'mid-conversation system message, original top-level system kept'],
    ['claude-sonnet-4-6', 'rebuilt top-level system'],
  ])('a change in a running thread on %s → %s', async (model) => {
    h = await createCoreHarness({ model });
    await h.core.handle(inbound('q1', { mentionsBot: true }), { sink: recordingSink });
    await h.core.handle(inbound('q2', { mentionsBot: true }), { sink: recordingSink });
    await h.core.runInstructionsCommand(cmd({ action: 'set', text: 'Answer in French.' }));
    await h.core.handle(inbound('q3', { mentionsBot: true }), { sink: recordingSink });
    await h.core.handle(inbound('q4', { mentionsBot: true }), { sink: recordingSink });
    const bodies = h.anthropic.messageRequests().map((r) => r.body as unknown as Body);
    for (const body of bodies) expect(validateRequest(body as unknown as Record<string, unknown>)).toBeUndefined();
    const [, second, third, fourth] = bodies as [Body, Body, Body, Body];
    if (model === 'claude-opus-4-8') {
      expect(third.system).toEqual(second.system);
      expect(third.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'system']);
      expect(third.messages.at(-1)?.content[0]?.text).toMatch(/changed the instructions[\s\S]*Answer in French\./);
      // The prefix before the new message is byte-identical to the previous request's.
      expect(JSON.stringify(third.messages.slice(0, 3))).toBe(JSON.stringify(second.messages));
      // Stored at that position: the next request keeps it right after q3, before the answer.
      expect(fourth.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'system', 'assistant', 'user']);
      expect(JSON.stringify(fourth.messages.slice(0, 6))).toBe(JSON.stringify(third.messages));
    } else {
      expect(third.system[0]?.text).toContain('Answer in French.');
      expect(second.system[0]?.text).not.toContain('Answer in French.');
      expect(third.messages.some((m) => m.role === 'system')).toBe(false);
    }
  });
});
