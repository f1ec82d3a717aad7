/** Stop, Regenerate and 👍/👎 on Discord answers, through discord.js against the fake Discord. */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/discord/fake-discord.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

const MANAGE_GUILD = 1n << 5n;
const EPHEMERAL = 64;

describe('Discord answer buttons', () => {
  let w: DiscordWorld | undefined;
  let previous: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    await previous?.discord.close();
    w = undefined;
    previous = undefined;
  });

  async function answered(world: DiscordWorld, question: string, answer?: string) {
    if (answer !== undefined) world.h.anthropic.enqueue({ text: answer });
    const mention = world.discord.post(world.general.id, world.alice, world.discord.mention(question));
    await world.h.anthropic.waitForRequests(world.h.anthropic.messageRequests().length + 1);
    await world.h.core.idle();
    return mention;
  }

  const lastPart = (world: DiscordWorld, threadId: string) => world.discord.botMessages(threadId).at(-1) as FakeMessage;
  const idOf = (world: DiscordWorld, message: FakeMessage, prefix: string) => world.discord.buttonIds(message).find((id) => id.startsWith(prefix)) as string;

  it('Stop mid-stream ends the model call; the partial text stays, marked stopped, and is what the history keeps', async () => {
    w = await startDiscordWorld({ spacingMs: 50 });
    const full = 'Counting sheep, one by one. '.repeat(400);
    w.h.anthropic.enqueue({ text: full, chunkSize: 20, chunkDelayMs: 15 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('count sheep'));
    const streaming = await w.discord.rest.waitFor(
      (r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200 && JSON.stringify(r.body).includes('tl:stop:'),
      'a streamed message with Stop',
    );
    const message = w.discord.find(mention.id, w.discord.botMessages(mention.id)[0]!.id) as FakeMessage;
    expect((streaming.body as { components: Array<{ components: Array<{ label?: string }> }> }).components[0]!.components[0]!.label).toBe('Stop');
    const press = w.discord.pressButton(message, idOf(w, message, 'tl:stop:'), w.alice);
    expect((await w.discord.callbackOf(press)).type).toBe(6);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();

    const shown = w.discord.botMessages(mention.id);
    const text = shown.map((m) => m.content).join('');
    expect(text).toContain('Counting sheep');
    expect(text).toMatch(/-# Stopped\.$/);
    expect(text).not.toContain('▌');
    // The stream ended early: far less than the model would have written.
    expect(text.length).toBeLessThan(full.length / 2);
    // A stopped answer is finished: Regenerate and feedback instead of Stop.
    expect(w.discord.buttonIds(shown.at(-1)!)).toEqual([expect.stringMatching(/^tl:regen:/), expect.stringMatching(/^tl:up:/), expect.stringMatching(/^tl:down:/)]);

    w.discord.post(mention.id, w.alice, 'go on');
    await w.h.anthropic.waitForRequests(2);
    const messages = w.h.anthropic.messageRequests()[1]!.body.messages as Array<{ role: string; content: Array<{ text?: string }> }>;
    const assistant = messages.filter((m) => m.role === 'assistant').map((m) => m.content.map((c) => c.text ?? '').join(''));
    expect(assistant).toHaveLength(1);
    expect(assistant[0]).toContain('Counting sheep');
    expect(assistant[0]).not.toContain('Stopped');
    expect(assistant[0]!.length).toBeLessThan(full.length / 2);
  });

  it('refuses Stop and Regenerate from someone else, allows an admin, and lets anyone vote', async () => {
    w = await startDiscordWorld({ spacingMs: 20 });
    w.h.anthropic.enqueue({ text: 'Slow answer. '.repeat(300), chunkSize: 10, chunkDelayMs: 15 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('slow please'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && JSON.stringify(r.body).includes('tl:stop:'), 'Stop shown');
    const streaming = w.discord.botMessages(mention.id)[0]!;
    const refused = await w.discord.callbackOf(w.discord.pressButton(streaming, idOf(w, streaming, 'tl:stop:'), w.bob));
    expect(refused).toMatchObject({ type: 4, data: { content: expect.stringMatching(/only the person who asked or an admin can stop/i), flags: EPHEMERAL } });
    const admin = { ...w.bob, id: '100000000000000003', username: 'carol', global_name: 'Carol' };
    expect((await w.discord.callbackOf(w.discord.pressButton(streaming, idOf(w, streaming, 'tl:stop:'), admin, MANAGE_GUILD))).type).toBe(6);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content).join('')).toMatch(/Stopped\.$/);

    const last = lastPart(w, mention.id);
    const regen = await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, 'tl:regen:'), w.bob));
    expect(regen).toMatchObject({ type: 4, data: { content: expect.stringMatching(/only the person who asked or an admin can regenerate/i), flags: EPHEMERAL } });

    const vote = await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, 'tl:up:'), w.bob));
    expect(vote).toMatchObject({ type: 4, data: { content: expect.stringContaining('👍'), flags: EPHEMERAL } });
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
  });

  it('stores each person’s latest vote and shows counts and the 👍 share in /usage', async () => {
    w = await startDiscordWorld();
    const mention = await answered(w, 'hello', 'Hello there!');
    const last = lastPart(w, mention.id);
    for (const [user, prefix] of [[w.alice, 'tl:down:'], [w.bob, 'tl:up:'], [w.alice, 'tl:up:']] as const) {
      await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, prefix), user));
    }
    const answerId = (await w.h.store.answers.answerTo(Number(idOf(w, last, 'tl:up:').split(':')[2])))!.id;
    expect(await w.h.store.answers.voteOf(answerId, w.alice.id)).toBe('up');
    expect(await w.h.store.answers.voteOf(answerId, w.bob.id)).toBe('up');
    const usage = await w.h.core.runUsageCommand({ platform: 'discord', workspaceId: w.discord.guildId, actor: { id: w.alice.id, name: 'Alice', isAdmin: true }, days: 7 });
    expect(usage.text).toContain('2 👍, 0 👎 (100% 👍)');
  });

  it('Regenerate rewrites a 5000-character answer as a 2000-character one in the same message, deleting the extra parts, and the history keeps only the new answer', async () => {
    w = await startDiscordWorld({ spacingMs: 20 });
    const long = Array.from({ length: 50 }, (_, i) => `Paragraph ${i} of the first take, with some words to fill it.`).join('\n\n') + '\n\n' + 'More of the first take. '.repeat(70);
    expect(long.length).toBeGreaterThanOrEqual(4700);
    const mention = await answered(w, 'explain', long);
    const before = w.discord.botMessages(mention.id);
    expect(before.length).toBeGreaterThanOrEqual(3);
    const last = before.at(-1)!;
    const fresh = 'The second take, shorter. '.repeat(70).trim();
    expect(fresh.length).toBeLessThanOrEqual(2000);
    w.h.anthropic.enqueue({ text: fresh, chunkSize: 200, chunkDelayMs: 5 });
    expect((await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, 'tl:regen:'), w.alice))).type).toBe(6);
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();

    const after = w.discord.botMessages(mention.id);
    expect(after.map((m) => m.id)).toEqual([before[0]!.id]);
    expect(after[0]!.content).toBe(fresh);
    expect(w.discord.buttonIds(after[0]!)).toEqual([expect.stringMatching(/^tl:regen:/), expect.stringMatching(/^tl:up:/), expect.stringMatching(/^tl:down:/)]);
    for (const gone of before.slice(1)) expect(w.discord.rest.entries.some((r) => r.method === 'DELETE' && r.path.endsWith(`/messages/${gone.id}`))).toBe(true);
    // The regeneration was asked the same question without the old answer.
    const regenRequest = JSON.stringify(w.h.anthropic.messageRequests()[1]!.body.messages);
    expect(regenRequest).toContain('explain');
    expect(regenRequest).not.toContain('first take');

    w.discord.post(mention.id, w.alice, 'thanks');
    await w.h.anthropic.waitForRequests(3);
    const next = JSON.stringify(w.h.anthropic.messageRequests()[2]!.body.messages);
    expect(next).toContain('The second take');
    expect(next).not.toContain('first take');
  });

  it('grows a short answer into several parts when the regenerated one is longer', async () => {
    w = await startDiscordWorld({ spacingMs: 20 });
    const mention = await answered(w, 'short first', 'Short.');
    const first = lastPart(w, mention.id);
    const longer = 'A much longer second answer. '.repeat(200).trim();
    w.h.anthropic.enqueue({ text: longer, chunkSize: 500 });
    w.discord.pressButton(first, idOf(w, first, 'tl:regen:'), w.alice);
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const after = w.discord.botMessages(mention.id);
    expect(after[0]!.id).toBe(first.id);
    expect(after.length).toBeGreaterThan(1);
    expect(after.map((m) => m.content).join(' ').replace(/\s+/g, ' ')).toBe(longer);
    expect(after.slice(0, -1).every((m) => w!.discord.buttonIds(m).length === 0)).toBe(true);
    const next = (await w.h.store.answers.answerTo(Number(idOf(w, after.at(-1)!, 'tl:regen:').split(':')[2])))!;
    expect(next.platformMessageIds).toEqual(after.map((m) => m.id));
  });

  it('acknowledges a Regenerate press while the model is still silent, and keeps the old answer when the regeneration fails', async () => {
    w = await startDiscordWorld({ spacingMs: 20, idleTimeoutMs: 1000, maxRetries: 0 });
    const mention = await answered(w, 'a question', 'The original answer.');
    const last = lastPart(w, mention.id);
    w.h.anthropic.enqueue({ text: 'never finished', stallAfterChars: 0 });
    const callback = await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, 'tl:regen:'), w.alice));
    expect(callback.type).toBe(6);
    // Acknowledged with the model still silent: nothing has changed yet.
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['The original answer.']);
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const shown = w.discord.botMessages(mention.id);
    expect(shown.map((m) => m.content)).toEqual([expect.stringMatching(/^The original answer\.\n\n-# Could not regenerate: .*took too long/s)]);
    expect(w.discord.buttonIds(shown[0]!)).toHaveLength(3);
    w.discord.post(mention.id, w.alice, 'ok');
    await w.h.anthropic.waitForRequests(3);
    const next = JSON.stringify(w.h.anthropic.messageRequests()[2]!.body.messages);
    expect(next).toContain('The original answer.');
    expect(next).not.toContain('Could not regenerate');
  });

  it('a press after a restart works (the id says what it acts on), and a press on a forgotten answer is explained', async () => {
    previous = await startDiscordWorld({ spacingMs: 20 });
    const mention = await answered(previous, 'remember me', 'First answer.');
    const last = lastPart(previous, mention.id);
    const databasePath = previous.h.databasePath;
    const discord = previous.discord;
    await previous.adapter.stop();
    await previous.h.core.idle();
    await previous.adapter.close();
    await previous.h.anthropic.close();
    await previous.h.store.close();

    w = await startDiscordWorld({ spacingMs: 20, discord, databasePath });
    w.h.anthropic.enqueue({ text: 'Second answer after a restart.' });
    expect((await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, 'tl:regen:'), w.alice))).type).toBe(6);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['Second answer after a restart.']);

    const forget = await w.h.core.forgetThread({ platform: 'discord', workspaceId: w.discord.guildId, channelId: w.general.id, threadKey: mention.id }, { id: w.alice.id, isAdmin: true });
    expect(forget.ok).toBe(true);
    const reply = await w.discord.callbackOf(w.discord.pressButton(last, idOf(w, last, 'tl:up:'), w.alice));
    expect(reply).toMatchObject({ type: 4, data: { content: expect.stringMatching(/no longer have this answer/), flags: EPHEMERAL } });
  });
});
