/**
 * A fresh gateway session reads back what a thread missed while live messages already arrive:
 * a message posted in the thread after the new session began is taken in, and answered, after
 * the messages the catch-up hands over, never before them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

describe('Discord: catch-up and live messages of a new session', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('takes a thread’s missed messages in before a live one posted while the catch-up reads them', async () => {
    w = await startDiscordWorld();
    const world = w;
    const mention = world.discord.post(world.general.id, world.alice, world.discord.mention('start'));
    await world.h.anthropic.waitForRequests(1);
    await world.h.core.idle();

    // The catch-up's read of the thread is answered only once the live message is in.
    const catchUpRead = world.discord.hold((method, path) => method === 'GET' && path === `/channels/${mention.id}/messages`);
    const since = world.discord.gateway.length;
    world.discord.invalidateSession();
    // While the bot is between sessions, Bob writes; the gateway never delivers it.
    world.discord.seed(mention.id, world.bob, world.discord.mention('missed while away'));
    await world.discord.gateway.waitFor((e) => e.kind === 'identify', 'a fresh IDENTIFY', { since, timeoutMs: 15_000 });
    await catchUpRead.arrived;
    world.discord.post(mention.id, world.alice, world.discord.mention('asked after the return'));
    // A mention elsewhere, delivered after it: once it is answered, the live one was received too.
    world.discord.post(world.general.id, world.alice, world.discord.mention('a probe'));
    await world.h.anthropic.waitForRequests(2);
    catchUpRead.release();
    await world.h.anthropic.waitForRequests(4);
    await world.h.core.idle();

    const answers = world.discord.botMessages(mention.id).map((m) => m.content);
    expect(answers).toHaveLength(3);
    expect(answers[1]).toContain('missed while away');
    expect(answers[2]).toContain('asked after the return');
  });
});
