/** /settings through the real discord.js against the fake Discord and the fake Messages API. */
import { PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeChannel } from '../fakes/discord/fake-discord.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

const ADMIN = PermissionFlagsBits.ManageGuild;
type Body = { model: string; system: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ text?: string }> }> };

async function settings(w: DiscordWorld, channelId: string, subcommand: string, options: Record<string, string> = {}, admin = true): Promise<string> {
  const opts = Object.entries(options).map(([name, value]) => ({ type: 3, name, value }));
  const { id, token } = w.discord.interaction(channelId, w.alice, 'settings', [{ type: 1, name: subcommand, options: opts }], admin ? ADMIN : 0n);
  const callback = await w.discord.rest.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`, `answer to /settings ${subcommand}`);
  const body = callback.body as { type: number; data?: { content?: string; flags?: number } };
  expect(body.data?.flags).toBe(64);
  if (body.type === 5) {
    const edit = await w.discord.rest.waitFor((r) => r.method === 'PATCH' && r.path.includes(token), 'deferred answer');
    return String((edit.body as { content: string }).content);
  }
  return String(body.data?.content);
}

const bodies = (w: DiscordWorld) => w.h.anthropic.messageRequests().map((r) => r.body as unknown as Body);

describe('Discord /settings', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('registers /settings with key and scope choices and value autocomplete', async () => {
    w = await startDiscordWorld();
    const put = await w.discord.rest.waitFor((r) => r.method === 'PUT' && r.path.endsWith('/commands'), 'command registration');
    type Option = { name: string; required?: boolean; autocomplete?: boolean; choices?: Array<{ value: string }>; options?: Option[] };
    const command = (put.body as Array<Option>).find((c) => c.name === 'settings');
    const set = command?.options?.find((o) => o.name === 'set');
    expect(command?.options?.map((o) => o.name)).toEqual(['show', 'set', 'clear', 'history']);
    expect(set?.options?.map((o) => [o.name, o.required ?? false])).toEqual([['key', true], ['value', true], ['scope', false]]);
    expect(set?.options?.[0]?.choices?.map((c) => c.value)).toEqual(['model', 'web_search', 'web_fetch', 'answers', 'roles']);
    expect(set?.options?.[1]?.autocomplete).toBe(true);
    expect(set?.options?.[2]?.choices?.map((c) => c.value)).toEqual(['server', 'channel']);
  });

  it('autocompletes model ids from the API list, for admins', async () => {
    w = await startDiscordWorld({ anthropic: { models: ['claude-opus-4-8', 'claude-sonnet-4-6', 'claude-sonnet-5'] } });
    const options = [{ type: 1, name: 'set', options: [{ type: 3, name: 'key', value: 'model' }, { type: 3, name: 'value', value: 'claude-son', focused: true }] }];
    const ask = async (permissions: bigint) => {
      const { id, token } = w!.discord.interaction(w!.general.id, w!.alice, 'settings', options, permissions, undefined, 4);
      const callback = await w!.discord.rest.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`, 'autocomplete answer');
      const body = callback.body as { type: number; data: { choices: Array<{ name: string; value: string }> } };
      expect(body.type).toBe(8);
      return body.data.choices.map((c) => c.value);
    };
    expect(await ask(ADMIN)).toEqual(['claude-sonnet-4-6', 'claude-sonnet-5']);
    expect(await ask(0n)).toEqual([]);
  });

  it('a channel model applies to the next request there while another channel keeps the default; history shows both changes', async () => {
    let random: FakeChannel | undefined;
    w = await startDiscordWorld({ before: (discord) => (random = discord.addTextChannel('random')) });
    expect(await settings(w, w.general.id, 'set', { key: 'model', value: 'claude-nonexistent-1', scope: 'channel' })).toMatch(/`claude-nonexistent-1` is not a model the Messages API offers. Some that are: `claude-/);
    expect(await settings(w, w.general.id, 'set', { key: 'model', value: 'claude-sonnet-4-6', scope: 'channel' })).toMatch(/Channel `model` set to claude-sonnet-4-6/);
    expect(await settings(w, w.general.id, 'set', { key: 'web_search', value: 'on', scope: 'channel' })).toMatch(/Channel `web_search` set to on/);
    w.discord.post(w.general.id, w.alice, w.discord.mention('in general'));
    await w.h.anthropic.waitForRequests(1);
    w.discord.post(random!.id, w.alice, w.discord.mention('in random'));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const byText = new Map(bodies(w).map((body) => [JSON.stringify(body.messages), body.model]));
    expect([...byText.entries()].find(([text]) => text.includes('in general'))?.[1]).toBe('claude-sonnet-4-6');
    expect([...byText.entries()].find(([text]) => text.includes('in random'))?.[1]).toBe('claude-opus-4-8');
    expect((await w.h.store.usage.report('discord', w.discord.guildId, 0, 'channel')).length).toBeGreaterThan(0);
    const shown = await settings(w, w.general.id, 'show');
    expect(shown).toMatch(/`model`: `claude-sonnet-4-6` \(channel, set by Alice/);
    expect(shown).toMatch(/`web_search`: on \(channel, set by Alice/);
    expect(shown).toMatch(/`web_fetch`: on \(default \(WEB_FETCH\)\)/);
    expect(await settings(w, random!.id, 'show')).toMatch(/`model`: `claude-opus-4-8` \(default \(ANTHROPIC_MODEL\)\)/);
    const history = await settings(w, w.general.id, 'history', { scope: 'channel' });
    expect(history).toMatch(/Last 2 changes to the channel settings[\s\S]*Alice set `web_search`: \(inherited\) → on[\s\S]*Alice set `model`: \(inherited\) → claude-sonnet-4-6/);
  });

  it('a thread moving from a model with mid-conversation system messages to one without stays valid', async () => {
    w = await startDiscordWorld({ model: 'claude-opus-4-8' });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('first'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const instructions = w.discord.interaction(mention.id, w.alice, 'instructions', [{ type: 1, name: 'set', options: [{ type: 3, name: 'text', value: 'Answer in haiku.' }] }], ADMIN);
    await w.discord.rest.waitFor((r) => r.path === `/interactions/${instructions.id}/${instructions.token}/callback`, 'instructions set');
    w.discord.post(mention.id, w.alice, 'second');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    // On Opus 4.8 the change arrived as a system message inside the conversation.
    expect(bodies(w)[1]?.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'system']);
    expect(await settings(w, mention.id, 'set', { key: 'model', value: 'claude-sonnet-4-6' })).toMatch(/Server `model` set to claude-sonnet-4-6/);
    w.discord.post(mention.id, w.alice, 'third');
    await w.h.anthropic.waitForRequests(3);
    await w.h.core.idle();
    const third = w.h.anthropic.messageRequests()[2]!;
    expect(third.status).toBe(200);
    const body = third.body as unknown as Body;
    expect(body.model).toBe('claude-sonnet-4-6');
    expect(body.messages.some((m) => m.role === 'system')).toBe(false);
    expect(body.system[0]?.text).toContain('Answer in haiku.');
    expect(w.discord.botMessages(mention.id).at(-1)?.content).toMatch(/echo: third/);
  });

  it('answers off: a mention gets one short reply in the channel, no thread and no model request; commands still work', async () => {
    w = await startDiscordWorld();
    expect(await settings(w, w.general.id, 'set', { key: 'answers', value: 'off', scope: 'channel' })).toMatch(/Channel `answers` set to off/);
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('are you there?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${w!.general.id}/messages` && r.status === 200, 'the refusal');
    await w.h.core.idle();
    expect(w.discord.botMessages(w.general.id).map((m) => m.content)).toEqual([expect.stringMatching(/turned off here/)]);
    expect(w.discord.rest.entries.some((r) => r.path.endsWith(`/messages/${mention.id}/threads`))).toBe(false);
    expect(w.h.anthropic.messageRequests()).toHaveLength(0);
    expect(await settings(w, w.general.id, 'show')).toMatch(/`answers`: off \(channel/);
    expect(await settings(w, w.general.id, 'clear', { key: 'answers', scope: 'channel' })).toMatch(/cleared. Here it is now on/);
    w.discord.post(w.general.id, w.alice, w.discord.mention('now?'));
    await w.h.anthropic.waitForRequests(1);
  });

  it('roles: a member without an allowed role is refused (the role unnamed), one with it and an admin are answered', async () => {
    let helpers = '';
    let mods = '';
    w = await startDiscordWorld({
      before: (discord) => {
        helpers = discord.addRole('Helpers');
        mods = discord.addRole('Mods', ADMIN);
      },
    });
    const carol = w.discord.user('100000000000000003', 'Carol');
    w.discord.giveRole(w.alice, helpers);
    w.discord.giveRole(carol, mods);
    expect(await settings(w, w.general.id, 'set', { key: 'roles', value: '<@&999999999999999999>' })).toMatch(/no role with id 999999999999999999/);
    expect(await settings(w, w.general.id, 'set', { key: 'roles', value: `<@&${helpers}>` })).toMatch(new RegExp(`Server \`roles\` set to <@&${helpers}>`));
    w.discord.post(w.general.id, w.bob, w.discord.mention('may I ask?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${w!.general.id}/messages` && r.status === 200, 'the refusal');
    await w.h.core.idle();
    const refusal = w.discord.botMessages(w.general.id).at(-1)?.content ?? '';
    expect(refusal).toMatch(/only answer some members here/);
    expect(refusal).not.toMatch(/Helpers|<@&/);
    expect(w.h.anthropic.messageRequests()).toHaveLength(0);
    const asked = w.discord.post(w.general.id, w.alice, w.discord.mention('I have the role'));
    await w.h.anthropic.waitForRequests(1);
    w.discord.post(w.general.id, carol, w.discord.mention('I am a moderator'));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(w.discord.botMessages(asked.id).map((m) => m.content)).toEqual(['echo: I have the role']);
  });

  it('refuses non-admins server-side, also when the command permission is bypassed', async () => {
    w = await startDiscordWorld();
    expect(await settings(w, w.general.id, 'set', { key: 'answers', value: 'off' }, false)).toMatch(/Only members with the Manage Server permission can use \/settings/);
    expect(await settings(w, w.general.id, 'show', {}, false)).toMatch(/Only members with the Manage Server permission/);
    expect(await settings(w, w.general.id, 'history')).toMatch(/No changes to the server settings yet/);
    expect(await settings(w, w.general.id, 'set', { key: 'answers', value: 'sometimes' })).toMatch(/`answers` is `on` or `off`, not `sometimes`/);
  });
});
