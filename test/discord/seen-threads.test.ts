/** A thread the bot watched from its creation is answered from discord.js's cache: no REST history read. */
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const allText = (body: unknown) => (body as Body).messages.flatMap((m) => m.content.map((b) => b.text ?? b.type)).join('\n');
const reads = (w: DiscordWorld) => w.discord.rest.entries.filter((r) => r.method === 'GET' && r.path.startsWith('/channels/'));

describe('threads seen from their creation', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('answers the first mention with the whole thread and reads nothing from REST', async () => {
    w = await startDiscordWorld();
    const thread = w.discord.addThread(w.general.id, 'live');
    w.discord.post(thread.id, w.alice, 'shall we ship on friday?');
    w.discord.post(thread.id, w.bob, 'only if the migration is done');
    w.discord.post(thread.id, w.alice, w.discord.mention('what do you think?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${thread.id}/messages` && r.status === 200, 'the answer');
    await w.h.core.idle();
    const text = allText(w.h.anthropic.messageRequests()[0]?.body);
    expect(text).toContain('shall we ship on friday?');
    expect(text).toContain('only if the migration is done');
    expect(reads(w).map((r) => r.path)).toEqual([]);
  });

  it('still reads a thread that existed before the session from REST', async () => {
    let threadId = '';
    w = await startDiscordWorld({
      before: (discord) => {
        threadId = discord.addThread(discord.addTextChannel('old').id, 'older', undefined, false).id;
        discord.seed(threadId, discord.user('100000000000000002', 'Bob'), 'said before the bot connected');
      },
    });
    w.discord.post(threadId, w.alice, w.discord.mention('what did Bob say?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${threadId}/messages` && r.status === 200, 'the answer');
    await w.h.core.idle();
    expect(allText(w.h.anthropic.messageRequests()[0]?.body)).toContain('said before the bot connected');
    expect(reads(w).some((r) => r.path === `/channels/${threadId}/messages`)).toBe(true);
  });
});
