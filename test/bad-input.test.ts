/**
 * The bad-input catalogue (issue 9): odd, hostile or broken input through the real adapters,
 * each with the outcome a user or operator should see. Nothing here may crash the bot, lose a
 * message silently, or answer twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isThreadlineError } from '../src/errors.js';
import { Store } from '../src/store/index.js';
import { startDiscordWorld, type DiscordWorld } from './discord/setup.js';
import { IMAGE_BYTES } from './helpers/images.js';
import { startSlackWorld, type SlackWorld } from './slack/setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const lastUserText = (body: unknown) => {
  const messages = (body as Body).messages;
  return (messages.at(-1)?.content ?? []).map((b) => b.text ?? `[${b.type}]`).join('\n');
};

describe('bad input on Discord', () => {
  let w: DiscordWorld;
  beforeAll(async () => {
    w = await startDiscordWorld({ maxRetries: 0 });
  });
  afterAll(async () => w.close());

  /** Posts in a fresh channel; resolves with what the bot shows in the new thread. */
  async function mentionIn(content: string, extra: Parameters<DiscordWorld['discord']['post']>[3] = {}) {
    const channel = w.discord.addTextChannel(`c${Math.random().toString(36).slice(2, 8)}`);
    const before = w.h.anthropic.messageRequests().length;
    const mention = w.discord.post(channel.id, w.alice, content, extra);
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, `reply to ${content.slice(0, 30)}`);
    await w.h.core.idle();
    return { shown: w.discord.botMessages(mention.id).map((m) => m.content).join('\n'), request: w.h.anthropic.messageRequests()[before]?.body, mention };
  }

  it.each<[string, () => Promise<void>]>([
    ['1. a mention with no text is answered as "respond to the conversation"', async () => {
      const { request, shown } = await mentionIn(w.discord.mention(''));
      expect(lastUserText(request)).toMatch(/mentioned you without any text/);
      expect(shown).toMatch(/^echo:/);
    }],
    ['2. a mention of only the bot (nickname form) is answered', async () => {
      const { shown } = await mentionIn(`<@!${w.discord.bot.id}>`);
      expect(shown).toMatch(/^echo:/);
    }],
    ['3. a 100,000-character message is answered (shortened for the model if needed)', async () => {
      const { shown, request } = await mentionIn(w.discord.mention('x'.repeat(100_000)));
      expect(shown).toMatch(/^echo: x+/);
      expect(JSON.stringify(request).length).toBeLessThan(1_000_000);
    }],
    ['4. zero-width-only text is answered, not sent as an empty block', async () => {
      const { shown } = await mentionIn(w.discord.mention('\u200B\u200B\u200B'));
      expect(shown.length).toBeGreaterThan(0);
    }],
    ['5. an unsupported file (zip) becomes a note for the model', async () => {
      const zip = w.discord.attachment('archive.zip', 'application/zip', { size: 5000 });
      const { request } = await mentionIn(w.discord.mention('what is inside?'), { attachments: [zip] });
      expect(lastUserText(request)).toMatch(/archive\.zip \(application\/zip, 4\.9 KB\) not shown/);
    }],
    ['6. an oversized image is skipped and the user is told why', async () => {
      const huge = w.discord.attachment('huge.png', 'image/png', { size: 20 * 1024 * 1024 });
      const { shown } = await mentionIn(w.discord.mention('look'), { attachments: [huge] });
      expect(shown).toMatch(/I couldn't look at huge\.png: it is 20\.0 MB, over the 7\.5 MB limit/);
    }],
    ['7. an image over 8000 px a side is skipped with a reason', async () => {
      const wide = w.discord.attachment('panorama.jpg', 'image/jpeg', { width: 12000, height: 1000 });
      const { shown } = await mentionIn(w.discord.mention('look'), { attachments: [wide] });
      expect(shown).toMatch(/panorama\.jpg: it is larger than 8000 px/);
    }],
    ['8. a model "bad request" is explained, with the request id', async () => {
      w.h.anthropic.enqueue({ status: 400, errorType: 'invalid_request_error', errorMessage: 'messages: something odd' });
      const { shown } = await mentionIn(w.discord.mention('odd'));
      expect(shown).toMatch(/could not accept this conversation as sent \(request id req_/);
    }],
    ['9. a model 401 (bad key) is explained without the key', async () => {
      w.h.anthropic.enqueue({ status: 401, errorType: 'authentication_error', errorMessage: 'invalid x-api-key' });
      const { shown } = await mentionIn(w.discord.mention('hi'));
      expect(shown).toMatch(/credentials were rejected/);
      expect(shown).not.toContain('sk-ant');
    }],
    ['10. a model 404 (unknown model) names the setting to fix', async () => {
      w.h.anthropic.enqueue({ status: 404, errorType: 'not_found_error', errorMessage: 'model: claude-nope' });
      const { shown } = await mentionIn(w.discord.mention('hi'));
      expect(shown).toMatch(/is not available\. An admin needs to change ANTHROPIC_MODEL/);
    }],
    ['11. an empty answer from the model is explained', async () => {
      w.h.anthropic.enqueue({ text: '   ' });
      const { shown } = await mentionIn(w.discord.mention('hi'));
      expect(shown).toMatch(/empty answer/);
    }],
    ['12. a channel the bot cannot post to is logged, not crashed on', async () => {
      const locked = w.discord.addTextChannel('locked');
      const mention = w.discord.post(locked.id, w.alice, w.discord.mention('hello?'));
      w.discord.forbiddenChannels.add(mention.id);
      await w.h.anthropic.waitForRequests(w.h.anthropic.messageRequests().length);
      await expect.poll(() => w.h.logLines.some((l) => l.includes('could not post the answer') && l.includes(mention.id))).toBe(true);
    }],
    ['13. a deleted thread (unknown channel) is logged, not crashed on', async () => {
      const channel = w.discord.addTextChannel('soon-gone');
      const mention = w.discord.post(channel.id, w.alice, w.discord.mention('hi'));
      await w.discord.rest.waitFor((r) => r.path === `/channels/${channel.id}/messages/${mention.id}/threads`, 'thread');
      w.discord.channels.delete(mention.id);
      await expect.poll(() => w.h.logLines.some((l) => l.includes('could not post the answer') && l.includes(mention.id))).toBe(true);
    }],
    ['35. a mention in an archived thread is answered there (posting reopens it)', async () => {
      const thread = w.discord.addThread(w.general.id, 'old topic');
      thread.thread_metadata = { archived: true, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false };
      const mention = w.discord.post(thread.id, w.alice, w.discord.mention('back to this'));
      await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${thread.id}/messages` && r.status === 200, 'the answer');
      await w.h.core.idle();
      expect(w.discord.botMessages(thread.id).map((m) => m.content)).toEqual(['echo: back to this']);
      expect(thread.thread_metadata.archived).toBe(false);
      void mention;
    }],
    ['36. an archived and locked thread refuses the answer: logged, not crashed on', async () => {
      const thread = w.discord.addThread(w.general.id, 'closed topic');
      thread.thread_metadata = { archived: true, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: true };
      // A moderator can still write in a locked thread; the bot cannot answer there.
      const mention = w.discord.post(thread.id, w.alice, w.discord.mention('anyone?'));
      await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${thread.id}/messages` && r.status === 400, 'the refused answer');
      await expect.poll(() => w.h.logLines.some((l) => l.includes('could not post the answer') && l.includes(mention.id))).toBe(true);
      expect(w.discord.botMessages(thread.id)).toEqual([]);
    }],
    ['14. an edit or delete of a message the bot never saw is ignored', async () => {
      const channel = w.discord.addTextChannel('unseen');
      const message = w.discord.post(channel.id, w.alice, 'not for the bot');
      w.discord.edit(channel.id, message.id, 'edited');
      w.discord.remove(channel.id, message.id);
      const probe = await mentionIn(w.discord.mention('still alive?'));
      expect(probe.shown).toMatch(/^echo: still alive\?/);
    }],
    ['15. an unknown slash command gets usage help', async () => {
      const { id, token } = w.discord.interaction(w.general.id, w.alice, 'teleport', [], 0n);
      const answer = await w.discord.rest.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`, 'answer');
      expect(JSON.stringify(answer.body)).toMatch(/Unknown command/);
    }],
    ['16. a mention from another bot is never answered', async () => {
      const channel = w.discord.addTextChannel('bots');
      const before = w.h.anthropic.messageRequests().length;
      w.discord.post(channel.id, w.discord.user('100000000000000077', 'Spambot', true), w.discord.mention('answer me'));
      const probe = await mentionIn(w.discord.mention('probe'));
      expect(w.h.anthropic.messageRequests().length).toBe(before + 1);
      expect(probe.shown).toMatch(/probe/);
    }],
    ['17. a model reply that pings @everyone or a role is defused', async () => {
      w.h.anthropic.enqueue({ text: 'Hey @everyone and @here and <@&123>!' });
      const { shown } = await mentionIn(w.discord.mention('ping people'));
      expect(shown).not.toMatch(/(^|[^\u200B])@everyone/);
      const post = w.discord.rest.entries.filter((r) => r.method === 'POST').at(-1);
      expect((post?.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [], replied_user: false });
    }],
  ])('%s', async (_name, run) => {
    await run();
  });
});

describe('bad input on Slack', () => {
  let w: SlackWorld;
  const CHANNEL = 'C0BADINPUT';
  beforeAll(async () => {
    w = await startSlackWorld('http', { maxRetries: 0 });
  });
  afterAll(async () => w.close());

  const post = (body: string, contentType = 'application/json', signature: 'valid' | 'bad' | 'none' = 'valid', timestamp?: number) =>
    w.slack.sendHttp(w.eventsUrl, body, { contentType, signature, ...(timestamp === undefined ? {} : { timestamp }) });

  async function mention(text: string, extra: Record<string, unknown> = {}) {
    const message = w.slack.seed(CHANNEL, 'U0ALICE001', `<@${w.slack.botUserId}>${text}`, extra);
    await w.deliver({ type: 'app_mention', user: 'U0ALICE001', text: message.text, ts: message.ts, channel: CHANNEL, ...extra });
    await expect.poll(() => w.slack.botMessages(CHANNEL, message.ts).length).toBeGreaterThan(0);
    await w.h.core.idle();
    return w.slack.botMessages(CHANNEL, message.ts).map((m) => m.text).join('\n');
  }

  const nothingStored = async () => expect((await w.h.store.conversations.recent('slack', 0)).filter((r) => r.conversation.channelId === 'C0HOSTILE1')).toEqual([]);
  const hostileEvent = () => JSON.stringify(w.slack.envelopeFor({ type: 'app_mention', user: 'U0ALICE001', text: `<@${w.slack.botUserId}> hi`, ts: w.slack.nextTs(), channel: 'C0HOSTILE1' }));

  it.each<[string, () => Promise<void>]>([
    ['18. a request with a bad signature is refused with 401 and stores nothing', async () => {
      expect((await post(hostileEvent(), 'application/json', 'bad')).status).toBe(401);
      await nothingStored();
    }],
    ['19. an unsigned request is refused with 401', async () => {
      expect((await post(hostileEvent(), 'application/json', 'none')).status).toBe(401);
      await nothingStored();
    }],
    ['20. a stale (replayed) request is refused with 401', async () => {
      expect((await post(hostileEvent(), 'application/json', 'valid', Math.floor(Date.now() / 1000) - 3600)).status).toBe(401);
      await nothingStored();
    }],
    ['21. a malformed JSON body is refused, nothing stored', async () => {
      const response = await post('{"type": "event_callback", "event": {');
      expect(response.status).toBeGreaterThanOrEqual(400);
      await nothingStored();
    }],
    ['22. the url_verification handshake is answered with the challenge', async () => {
      const response = await post(JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 't' }));
      expect(response.status).toBe(200);
      expect(response.body).toContain('c-123');
    }],
    ['23. an unknown event type is acknowledged and ignored', async () => {
      const before = w.h.anthropic.messageRequests().length;
      await w.deliver({ type: 'reaction_added', user: 'U0ALICE001', reaction: 'tada', item: { type: 'message', channel: CHANNEL, ts: '1.0' } });
      expect(w.h.anthropic.messageRequests().length).toBe(before);
    }],
    ['24. unknown message subtypes (channel_join) are ignored', async () => {
      const before = w.h.anthropic.messageRequests().length;
      await w.deliver({ type: 'message', subtype: 'channel_join', user: 'U0ALICE001', text: `<@U0ALICE001> has joined`, ts: w.slack.nextTs(), channel: CHANNEL });
      expect(w.h.anthropic.messageRequests().length).toBe(before);
    }],
    ['25. edits and deletes of unknown messages are ignored', async () => {
      await w.deliver({ type: 'message', subtype: 'message_changed', channel: CHANNEL, ts: w.slack.nextTs(), message: { ts: '1.000001', user: 'U0ALICE001', text: 'x' } });
      await w.deliver({ type: 'message', subtype: 'message_deleted', channel: CHANNEL, ts: w.slack.nextTs(), deleted_ts: '1.000002' });
      expect(await mention(' alive?')).toMatch(/echo: alive\?/);
    }],
    ['26. a mention with only the bot is answered', async () => {
      expect(await mention('')).toMatch(/^echo:/);
    }],
    ['27. a file over the size limit is not downloaded, and the user is told', async () => {
      const file = { ...w.slack.file('big.png', 'image/png', IMAGE_BYTES['image/png'] as Buffer), size: 30 * 1024 * 1024 };
      const shown = await mention(' see', { files: [file] });
      expect(shown).toMatch(/couldn't look at big\.png: it is 30\.0 MB/);
      expect(w.slack.calls.entries.some((c) => c.method.includes('files-pri'))).toBe(false);
    }],
    ['28. a file the bot may not read (HTML sign-in page) is explained', async () => {
      const file = w.slack.file('secret.png', 'image/png', IMAGE_BYTES['image/png'] as Buffer);
      w.slack.redirects.set(new URL(file.url_private_download).pathname, `http://localhost:${w.slack.port}/files-pri/T-F0/login.html`);
      expect(await mention(' see', { files: [file] })).toMatch(/returned a web page/);
    }],
    ['29. slash command text that is not a subcommand gets usage help', async () => {
      const payload = w.slack.slashCommand('/instructions', 'please do things', 'U0ALICE001');
      await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
      const answer = await w.slack.responses.waitFor((r) => payload.response_url!.endsWith(r.id), 'usage');
      expect(String(answer.body.text)).toMatch(/^Usage:/);
    }],
    ['30. a non-admin /instructions is refused and logged', async () => {
      const payload = w.slack.slashCommand('/instructions', 'set be evil', 'U0BOB00001');
      await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
      const answer = await w.slack.responses.waitFor((r) => payload.response_url!.endsWith(r.id), 'refusal');
      expect(String(answer.body.text)).toMatch(/Only workspace admins/);
      expect(w.h.logLines.some((l) => l.includes('refused /instructions from a non-admin'))).toBe(true);
    }],
    ['31. instructions over 8000 characters are refused with the limit named', async () => {
      w.slack.users.get('U0ALICE001')!.is_admin = true;
      const payload = w.slack.slashCommand('/instructions', `set ${'y'.repeat(9000)}`, 'U0ALICE001');
      await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
      const answer = await w.slack.responses.waitFor((r) => payload.response_url!.endsWith(r.id), 'limit');
      expect(String(answer.body.text)).toMatch(/at most 8000 characters; these are 9000/);
    }],
    ['32. model text that would ping the channel is neutralized', async () => {
      w.h.anthropic.enqueue({ text: 'Attention <!channel> and <!here> and @everyone' });
      const shown = await mention(' announce');
      expect(shown).not.toMatch(/<!channel>|<!here>/);
      expect(shown).toContain('@\u200Bchannel');
    }],
  ])('%s', async (_name, run) => {
    await run();
  });
});

describe('bad input at startup', () => {
  it('33. a database locked by another process gives a clear error', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-locked-'));
    const path = join(dir, 'db.sqlite');
    const holder = new BetterSqlite3(path);
    holder.pragma('locking_mode = EXCLUSIVE');
    holder.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);');
    try {
      let caught: unknown;
      try {
        await Store.open({ databasePath: path });
      } catch (error) {
        caught = error;
      }
      expect(isThreadlineError(caught)).toBe(true);
      expect(String((caught as Error).message)).toMatch(/cannot (open|use) database .*(locked|busy)/i);
    } finally {
      holder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('34. a database path under a file (not a directory) gives a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-badpath-'));
    try {
      writeFileSync(join(dir, 'not-a-dir'), 'x');
      await expect(Store.open({ databasePath: join(dir, 'not-a-dir', 'db.sqlite') })).rejects.toThrow(/cannot open database .*not-a-dir/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
