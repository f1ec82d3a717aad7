import { PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeAttachment } from '../fakes/discord/fake-discord.js';
import { expectChangeApplied } from '../helpers/instructions.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

const ADMIN = PermissionFlagsBits.ManageGuild;

async function run(w: DiscordWorld, channelId: string, options: unknown[], admin = true, resolved?: Record<string, unknown>, name = 'instructions'): Promise<string> {
  const { id, token } = w.discord.interaction(channelId, w.alice, name, options, admin ? ADMIN : 0n, resolved);
  const callback = await w.discord.rest.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`, `answer to /${name}`);
  const body = callback.body as { type: number; data?: { content?: string; flags?: number } };
  if (body.type === 5) {
    expect(body.data?.flags).toBe(64);
    const edit = await w.discord.rest.waitFor((r) => r.method === 'PATCH' && r.path.includes(`/webhooks/`) && r.path.includes(token), 'deferred answer');
    return String((edit.body as { content: string }).content);
  }
  expect(body.data?.flags).toBe(64);
  return String(body.data?.content);
}

const sub = (name: string, options: unknown[] = []) => [{ type: 1, name, options }];
const str = (name: string, value: string) => ({ type: 3, name, value });

describe('Discord /instructions', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('sets, shows, clears and audits per scope; refuses non-admins even with a forged call', async () => {
    w = await startDiscordWorld();
    const c = w.general.id;
    expect(await run(w, c, sub('set', [str('text', 'Be brief.')]))).toMatch(/Server instructions set/);
    expect(await run(w, c, sub('set', [str('text', 'Use British spelling.'), str('scope', 'channel')]))).toMatch(/Channel instructions set/);
    expect(await run(w, c, sub('set', [str('text', 'forged')]), false)).toMatch(/Only members with the Manage Server permission/);
    const shown = await run(w, c, sub('show'));
    expect(shown).toMatch(/Server instructions \(set by Alice[\s\S]*> Be brief\.[\s\S]*Channel instructions \(set by Alice[\s\S]*> Use British spelling\./);
    expect(shown).not.toContain('forged');
    expect(await run(w, c, sub('clear', [str('scope', 'channel')]))).toMatch(/Channel instructions cleared/);
    expect(await run(w, c, sub('history', [str('scope', 'channel')]))).toMatch(/Alice cleared[\s\S]*Alice set/);
    expect(await run(w, c, sub('set', [str('text', 'x'.repeat(6000))]))).toMatch(/Server instructions set \(6000 characters\)/);
    expect(await run(w, c, sub('set'))).toMatch(/text is empty/);
    expect(await run(w, c, sub('frobnicate'))).toMatch(/^Usage:/);
  });

  it('takes long instructions from a text file, and refuses a file that is not text', async () => {
    w = await startDiscordWorld();
    const text = `Long policy.\n${'Rule. '.repeat(1100)}`;
    const file: FakeAttachment = w.discord.attachment('policy.md', 'text/markdown', { bytes: Buffer.from(text) });
    const resolved = { attachments: { [file.id]: file } };
    expect(await run(w, w.general.id, sub('set', [{ type: 11, name: 'file', value: file.id }]), true, resolved)).toMatch(/Server instructions set \(\d+ characters\)/);
    const image: FakeAttachment = w.discord.attachment('cat.png', 'image/png');
    expect(await run(w, w.general.id, sub('set', [{ type: 11, name: 'file', value: image.id }]), true, { attachments: { [image.id]: image } })).toMatch(/not a text file/);
    const big = w.discord.attachment('huge.txt', 'text/plain', { bytes: Buffer.alloc(70 * 1024, 97) });
    expect(await run(w, w.general.id, sub('set', [{ type: 11, name: 'file', value: big.id }]), true, { attachments: { [big.id]: big } })).toMatch(/too large/);
  });

  it('explains in a DM that instructions are per server', async () => {
    w = await startDiscordWorld();
    const dm = w.discord.addDm(w.alice);
    expect(await run(w, dm.id, sub('show'))).toMatch(/per server/);
  });

  it('reports usage and forgets a thread for admins', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('remember the code word: pineapple'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(await run(w, mention.id, [{ type: 4, name: 'days', value: 7 }], true, undefined, 'usage')).toMatch(/Claude usage in the last 7 days[\s\S]*1 reply/);
    expect(await run(w, mention.id, [], false, undefined, 'forget')).toMatch(/Only admins/);
    expect(await run(w, mention.id, [], true, undefined, 'forget')).toMatch(/no longer remember/);
    w.discord.post(mention.id, w.alice, w.discord.mention('what was the code word?'));
    await w.h.anthropic.waitForRequests(2);
    expect(JSON.stringify(w.h.anthropic.messageRequests()[1]?.body)).not.toContain('pineapple');
  });

  it.each(['claude-opus-4-8', 'claude-sonnet-4-6'])('applies a change to the very next reply of a running thread on %s', async (model) => {
    w = await startDiscordWorld({ model });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('first'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    w.discord.post(mention.id, w.alice, 'second');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(await run(w, mention.id, sub('set', [str('text', 'Answer in haiku.')]))).toMatch(/set/);
    w.discord.post(mention.id, w.alice, 'third');
    await w.h.anthropic.waitForRequests(3);
    const [, before, after] = w.h.anthropic.messageRequests().map((r) => r.body);
    expectChangeApplied(model, before, after, 'Answer in haiku.');
  });
});
