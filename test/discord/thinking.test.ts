/** THINKING on Discord: "thinking…" while the model thinks, a discreet "thought for N s", thinking never stored. */
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

describe('Discord thinking', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('shows thinking…, ends with a thought-for note, and keeps only the text in the history', async () => {
    w = await startDiscordWorld({ thinking: 'high', spacingMs: 20 });
    w.h.anthropic.enqueue({ text: 'The considered answer.', thinkingMs: 50 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('think hard'));
    const thinking = await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && JSON.stringify(r.body).includes('thinking…'), 'thinking shown');
    expect(JSON.stringify(thinking.body)).toContain('tl:stop:');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()[0]!.body).toMatchObject({ thinking: { type: 'adaptive' }, output_config: { effort: 'high' } });
    const shown = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(shown).toEqual([expect.stringMatching(/^The considered answer\.\n\n-# Thought for \d+ s\.$/)]);

    w.discord.post(mention.id, w.alice, 'and?');
    await w.h.anthropic.waitForRequests(2);
    const messages = w.h.anthropic.messageRequests()[1]!.body.messages as Array<{ role: string; content: Array<{ type: string; text?: string }> }>;
    const assistant = messages.filter((m) => m.role === 'assistant');
    expect(assistant.flatMap((m) => m.content.map((c) => c.type))).toEqual(['text']);
    expect(assistant[0]!.content[0]!.text).toBe('The considered answer.');
  });

  it('Stop while the model is still thinking ends the call and says it stopped before writing', async () => {
    w = await startDiscordWorld({ thinking: 'max', spacingMs: 20 });
    w.h.anthropic.enqueue({ text: 'An answer nobody waits for.', thinkingMs: 5000 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('ponder'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200 && JSON.stringify(r.body).includes('thinking…'), 'thinking shown');
    const placeholder = w.discord.botMessages(mention.id)[0]!;
    const stop = w.discord.buttonIds(placeholder).find((id) => id.startsWith('tl:stop:')) as string;
    expect((await w.discord.callbackOf(w.discord.pressButton(placeholder, stop, w.alice))).type).toBe(6);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual([expect.stringMatching(/Stopped before I wrote anything/)]);
    expect(w.discord.buttonIds(w.discord.botMessages(mention.id)[0]!)).toEqual([]);
  });

  it('sends no thinking parameters to a model without adaptive thinking', async () => {
    w = await startDiscordWorld({ thinking: 'high', model: 'claude-haiku-4-5' });
    w.h.anthropic.enqueue({ text: 'Quick answer.' });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('quick'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const body = w.h.anthropic.messageRequests()[0]!.body;
    expect(body.thinking).toBeUndefined();
    expect(body.output_config).toBeUndefined();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['Quick answer.']);
  });
});
