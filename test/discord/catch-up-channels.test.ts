/**
 * A new session's catch-up also reads the channels where people wrote while the bot was away,
 * not only those it answers in: a first mention in a channel the bot never answered in is
 * answered. Channels quiet since before the answer window, and channels the bot may not read, are
 * not read at all.
 */
import { PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { snowflake } from '../fakes/discord/fake-discord.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

let w: DiscordWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const channelReads = (world: DiscordWorld, channelId: string, since: number) =>
  world.discord.rest.entries.slice(since).filter((r) => r.method === 'GET' && r.path === `/channels/${channelId}/messages` && r.query.has('after'));

describe('Discord: catch-up in channels the bot never answered in', () => {
  it('answers a first mention posted there while the session was lost, and reads no quiet or hidden channel', async () => {
    w = await startDiscordWorld();
    const world = w;
    const first = world.discord.post(world.general.id, world.alice, world.discord.mention('start'));
    await world.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${first.id}/messages`, 'first answer');
    await world.h.core.idle();
    const random = world.discord.addTextChannel('random');
    // Last written in two hours ago, before the answer window.
    const quiet = world.discord.addTextChannel('quiet');
    world.discord.seed(quiet.id, world.bob, world.discord.mention('an old question'), { id: snowflake(Date.now() - 2 * 60 * 60 * 1000) });
    // Nobody but its members may read it, and the bot is not one.
    const hidden = world.discord.addTextChannel('hidden');
    hidden.permission_overwrites = [{ id: world.discord.guildId, type: 0, allow: '0', deny: String(PermissionFlagsBits.ViewChannel) }];
    const restSince = world.discord.rest.length;
    world.discord.invalidateSession();
    // While the bot is between sessions: a mention in a channel it never answered in, and chatter in another.
    const missed = world.discord.seed(random.id, world.bob, world.discord.mention('anyone here?'));
    world.discord.seed(hidden.id, world.alice, 'members only');
    await world.discord.gateway.waitFor((e) => e.kind === 'identify', 'second IDENTIFY', { since: world.discord.gateway.length, timeoutMs: 15_000 });

    await world.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${missed.id}/messages` && r.status === 200, 'the missed mention answered in its thread');
    await world.h.core.idle();
    expect(world.discord.botMessages(missed.id).map((m) => m.content)).toEqual(['echo: anyone here?']);
    expect(channelReads(world, random.id, restSince)).toHaveLength(1);
    expect(channelReads(world, quiet.id, restSince)).toEqual([]);
    expect(channelReads(world, hidden.id, restSince)).toEqual([]);
    // The channel it answers in is read as before; what was answered there is not answered again.
    expect(channelReads(world, world.general.id, restSince)).toHaveLength(1);
    expect(world.discord.botMessages(first.id).map((m) => m.content)).toEqual(['echo: start']);
    expect(world.h.anthropic.messageRequests()).toHaveLength(2);
  });
});
