/**
 * A mention in a channel opens a thread on it; a follow-up posted in that thread while Discord is
 * still answering the thread's creation must come after the mention, never before it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const turns = (body: unknown) => (body as Body).messages.map((m) => `${m.role}:${m.content.map((b) => b.text ?? b.type).join(' ')}`);

describe('Discord: a channel mention and the follow-ups in the thread it opens', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('takes the mention in first, even when a follow-up arrives while the thread is being opened', async () => {
    w = await startDiscordWorld();
    const world = w;
    // The thread exists (and Discord announces it) before the answer to its creation comes back.
    const opening = world.discord.hold((method, path) => method === 'POST' && /\/messages\/\d+\/threads$/.test(path));
    const mention = world.discord.post(world.general.id, world.alice, world.discord.mention('first question'));
    await opening.arrived;
    world.discord.post(mention.id, world.bob, world.discord.mention('second question'));
    // The follow-up is taken in while the thread's creation is still held.
    const thread = { platform: 'discord' as const, workspaceId: world.discord.guildId, channelId: world.general.id, threadKey: mention.id };
    await expect.poll(async () => ((await world.h.core.readThread(thread)) ?? []).some((entry) => entry.text.includes('second question')), { timeout: 10_000 }).toBe(true);
    opening.release();
    await world.h.anthropic.waitForRequests(2);
    await world.h.core.idle();
    const [first, second] = world.h.anthropic.messageRequests();
    expect(turns(first?.body)).toEqual(['user:first question']);
    expect(turns(second?.body)).toEqual(['user:Alice: first question', 'assistant:echo: first question', 'user:Bob: second question']);
    expect(world.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['echo: first question', 'echo: Bob: second question']);
  });
});
