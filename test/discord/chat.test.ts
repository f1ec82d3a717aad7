import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const allText = (body: unknown) => (body as Body).messages.flatMap((m) => m.content.map((b) => b.text ?? '')).join('\n');

describe('Discord adapter', () => {
  let w: DiscordWorld;
  afterEach(async () => w?.close());

  it('reports ready on /healthz after READY', async () => {
    w = await startDiscordWorld();
    expect(w.h.health.snapshot()).toMatchObject({ ok: true, discord: 'ready' });
  });

  it('answers a mention in a channel inside a new thread on that message', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('what is 2+2?'));
    const posted = await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages`, 'reply in the thread');
    expect(w.discord.rest.entries.some((r) => r.path === `/channels/${w.general.id}/messages/${mention.id}/threads`)).toBe(true);
    expect((posted.body as { content: string }).content).toBe('echo: what is 2+2?');
    expect((posted.body as { allowed_mentions: unknown }).allowed_mentions).toEqual({ parse: [], replied_user: false });
  });
});
