import { afterEach, describe, expect, it } from 'vitest';
import { PermissionFlagsBits } from 'discord.js';
import { snowflake } from '../fakes/discord/fake-discord.js';
import { createDiscordAdapter } from '../../src/adapters/discord/index.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const allText = (body: unknown) => (body as Body).messages.flatMap((m) => m.content.map((b) => `${m.role}:${b.text ?? b.type}`)).join('\n');
const historyReads = (w: DiscordWorld, channelId: string) => w.discord.rest.entries.filter((r) => r.method === 'GET' && r.path === `/channels/${channelId}/messages`).length;

describe('Discord adapter', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('reports ready on /healthz after READY', async () => {
    w = await startDiscordWorld();
    expect(await w.h.health.snapshot()).toMatchObject({ ok: true, discord: 'ready' });
    const commands = await w.discord.rest.waitFor((r) => r.method === 'PUT' && r.path.endsWith('/commands'), 'command registration');
    expect((commands.body as Array<{ name: string }>).map((c) => c.name)).toEqual(['instructions', 'settings', 'usage', 'forget']);
  });

  it('answers a mention in a channel inside a new thread on that message, never pinging', async () => {
    w = await startDiscordWorld();
    w.h.anthropic.enqueue({ text: 'Four. @everyone should know.' });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('what is 2+2?'));
    const posted = await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'reply in the thread');
    expect(w.discord.rest.entries.some((r) => r.path === `/channels/${w?.general.id}/messages/${mention.id}/threads`)).toBe(true);
    await w.h.core.idle();
    const final = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(final).toEqual(['Four. @\u200Beveryone should know.']);
    expect((posted.body as { allowed_mentions: unknown }).allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(allText(w.h.anthropic.messageRequests()[0]?.body)).toBe('user:what is 2+2?');
  });

  it('answers a mention in a 50-message thread with all 50 turns, reads history once, and never again', async () => {
    let threadId = '';
    w = await startDiscordWorld({
      before: (discord) => {
        const parent = discord.addTextChannel('projects');
        threadId = discord.addThread(parent.id, 'design', snowflake(), false).id;
        const people = [discord.user('100000000000000001', 'Alice'), discord.user('100000000000000002', 'Bob')];
        for (let i = 0; i < 49; i += 1) discord.seed(threadId, people[i % 2]!, `thread message ${i}`);
      },
    });
    w.discord.post(threadId, w.alice, w.discord.mention('summarize the thread'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${threadId}/messages`, 'first answer');
    await w.h.core.idle();
    const text = allText(w.h.anthropic.messageRequests()[0]?.body);
    for (let i = 0; i < 49; i += 1) expect(text).toContain(`thread message ${i}`);
    expect(text).toContain('Alice: summarize the thread');
    const readsAfterFirst = historyReads(w, threadId);
    expect(readsAfterFirst).toBeGreaterThan(0);

    w.discord.post(threadId, w.bob, w.discord.mention('and what did I say?'));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(historyReads(w, threadId)).toBe(readsAfterFirst);
    const second = allText(w.h.anthropic.messageRequests()[1]?.body);
    expect(second).toContain('Bob: and what did I say?');
    expect(second).toContain('assistant:echo: Alice: summarize the thread');
  });

  it('follows up without a mention in a thread it answered, and records others\' chatter', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('first'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages`, 'first answer');
    await w.h.core.idle();
    w.discord.post(mention.id, w.bob, 'a follow-up without mention');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(allText(w.h.anthropic.messageRequests()[1]?.body)).toContain('Bob: a follow-up without mention');
  });

  it('answers every DM message', async () => {
    w = await startDiscordWorld();
    const dm = w.discord.addDm(w.alice);
    w.discord.post(dm.id, w.alice, 'hello in private');
    const reply = await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${dm.id}/messages`, 'DM reply');
    expect((reply.body as { content: string }).content).toBe('echo: hello in private');
  });

  it("never answers other bots or itself, even when mentioned", async () => {
    w = await startDiscordWorld();
    const other = w.discord.user('100000000000000099', 'OtherBot', true);
    w.discord.post(w.general.id, other, w.discord.mention('answer me, bot'));
    const human = w.discord.post(w.general.id, w.alice, w.discord.mention('but answer me'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${human.id}/messages`, 'answer to the human');
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
    expect(allText(w.h.anthropic.messageRequests()[0]?.body)).not.toContain('answer me, bot');
  });

  it('renders other mentions as names and strips its own', async () => {
    w = await startDiscordWorld();
    w.discord.post(w.general.id, w.alice, `${w.discord.mention('ask')} <@${w.bob.id}> about <#${w.general.id}>`, { mentions: [w.discord.bot, w.bob] });
    await w.h.anthropic.waitForRequests(1);
    expect(allText(w.h.anthropic.messageRequests()[0]?.body)).toBe('user:ask @Bob about #general');
  });

  it('follows edits and deletes of stored messages', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('first question'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages`, 'first answer');
    await w.h.core.idle();
    const typo = w.discord.post(mention.id, w.bob, 'teh typo');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const secret = w.discord.post(mention.id, w.bob, 'my password is hunter2');
    await w.h.anthropic.waitForRequests(3);
    await w.h.core.idle();
    w.discord.edit(mention.id, typo.id, 'the typo, fixed');
    w.discord.remove(mention.id, secret.id);
    // Wait until the store has seen both, then ask again.
    const conversation = () => w!.h.store.conversations.find({ platform: 'discord', workspaceId: w!.discord.guildId, channelId: w!.general.id, threadKey: mention.id });
    await expect.poll(async () => (await w!.h.store.messages.find((await conversation())!.id, secret.id))?.deletedAt ?? null).not.toBeNull();
    await expect.poll(async () => (await w!.h.store.messages.find((await conversation())!.id, typo.id))?.text).toBe('the typo, fixed');
    w.discord.post(mention.id, w.alice, w.discord.mention('recap'));
    await w.h.anthropic.waitForRequests(4);
    const text = allText(w.h.anthropic.messageRequests()[3]?.body);
    expect(text).toContain('the typo, fixed');
    expect(text).not.toContain('user:Bob: my password is hunter2');
  });

  it('splits a 5000-character answer with a code block over messages, fences reopened', async () => {
    w = await startDiscordWorld();
    const code = Array.from({ length: 120 }, (_, i) => `    result_${i} = compute(${i})  # step ${i}`).join('\n');
    const answer = `Here is the script.\n\n\`\`\`python\n${code}\n\`\`\`\n\n${'Some closing explanation. '.repeat(40)}`;
    expect(answer.length).toBeGreaterThan(5000);
    w.h.anthropic.enqueue({ text: answer });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('write it'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const parts = w.discord.botMessages(mention.id).map((m) => m.content);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) {
      expect([...part].length).toBeLessThanOrEqual(2000);
      expect((part.match(/```/g) ?? []).length % 2).toBe(0);
    }
    expect(parts.slice(1).some((p) => p.startsWith('```python\n'))).toBe(true);
    const rejoined = parts.join('\n').replace(/```python\n|```\n?/g, '').replace(/\s+/g, '');
    expect(rejoined).toBe(answer.replace(/```python\n|```\n?/g, '').replace(/\s+/g, ''));
  });

  it('gets through a 429 with rate-limit headers without the user noticing', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('hi'));
    w.discord.rateLimit((method, path) => method === 'POST' && path === `/channels/${mention.id}/messages`, 1);
    await w.discord.rest.waitFor((r) => r.status === 429, 'the 429');
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'the retried post');
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['echo: hi']);
  });

  it('logs, and does not crash, when it may not post in a channel', async () => {
    w = await startDiscordWorld();
    const locked = w.discord.addTextChannel('read-only');
    w.discord.forbiddenChannels.add(locked.id);
    const mention = w.discord.post(locked.id, w.alice, w.discord.mention('hello?'));
    w.discord.forbiddenChannels.add(mention.id);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    await expect.poll(() => w!.h.logLines.some((line) => /Missing Permissions|platform_forbidden/.test(line))).toBe(true);
    // Still alive: a mention elsewhere is answered.
    const next = w.discord.post(w.general.id, w.alice, w.discord.mention('still there?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${next.id}/messages` && r.status === 200, 'answer elsewhere');
  });

  it('explains model errors in the thread instead of going silent', async () => {
    w = await startDiscordWorld({ maxRetries: 0 });
    w.h.anthropic.enqueue({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded' });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('hello'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual([expect.stringMatching(/overloaded right now/)]);
  });

  it('resumes after the connection drops and answers a mention sent while it was away', { timeout: 20_000 }, async () => {
    w = await startDiscordWorld();
    const identifies = w.discord.gateway.entries.filter((e) => e.kind === 'identify').length;
    const since = w.discord.gateway.length;
    w.discord.dropConnection();
    // Dispatched while no socket is open: Discord replays it after RESUME.
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('are you still there?'));
    await w.discord.gateway.waitFor((e) => e.kind === 'resume', 'RESUME', { since, timeoutMs: 15_000 });
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'the answer');
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['echo: are you still there?']);
    expect(w.discord.gateway.entries.filter((e) => e.kind === 'identify').length).toBe(identifies);
  });

  it('answers a follow-up sent while the session was lost (fresh IDENTIFY), read back by the catch-up', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('start'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages`, 'first answer');
    await w.h.core.idle();
    const identifies = w.discord.gateway.entries.filter((e) => e.kind === 'identify').length;
    w.discord.invalidateSession();
    // While the bot is between sessions, Bob writes; the gateway never delivers it.
    w.discord.seed(mention.id, w.bob, 'said while you were away');
    await w.discord.gateway.waitFor((e) => e.kind === 'identify', 'second IDENTIFY', { since: w.discord.gateway.length, timeoutMs: 15_000 });
    expect(w.discord.gateway.entries.filter((e) => e.kind === 'identify').length).toBe(identifies + 1);
    const after = await w.discord.rest.waitFor((r) => r.method === 'GET' && r.path === `/channels/${mention.id}/messages` && r.query.has('after'), 'catch-up read');
    expect(after.query.get('after')).toBeTruthy();
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(allText(w.h.anthropic.messageRequests()[1]?.body)).toMatch(/Bob: said while you were away$/);
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['echo: start', 'echo: Bob: said while you were away']);
  });

  it('answers a channel mention posted while the session was lost, read back from a channel it answers in; one answered before is not answered again, even forgotten', async () => {
    w = await startDiscordWorld();
    const first = w.discord.post(w.general.id, w.alice, w.discord.mention('start'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${first.id}/messages`, 'first answer');
    const earlier = w.discord.post(w.general.id, w.alice, w.discord.mention('something to forget'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${earlier.id}/messages`, 'the answer to forget');
    await w.h.core.idle();
    const forgotten = await w.h.store.conversations.find({ platform: 'discord', workspaceId: w.discord.guildId, channelId: w.general.id, threadKey: earlier.id });
    await w.h.store.forgetConversation(forgotten?.id as number);
    w.discord.invalidateSession();
    // A new conversation started in the channel while the bot is between sessions, and chatter that is not for it.
    const missed = w.discord.seed(w.general.id, w.bob, w.discord.mention('did you see this?'));
    w.discord.seed(w.general.id, w.alice, 'just chatting');
    await w.discord.gateway.waitFor((e) => e.kind === 'identify', 'second IDENTIFY', { since: w.discord.gateway.length, timeoutMs: 15_000 });
    const read = await w.discord.rest.waitFor((r) => r.method === 'GET' && r.path === `/channels/${w?.general.id}/messages` && r.query.has('after'), 'the channel read back');
    expect(BigInt(read.query.get('after') ?? '0')).toBeLessThan(BigInt(missed.id));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${missed.id}/messages` && r.status === 200, 'the missed mention answered in its thread');
    await w.h.core.idle();
    expect(w.discord.botMessages(missed.id).map((m) => m.content)).toEqual(['echo: did you see this?']);
    expect(w.discord.botMessages(first.id).map((m) => m.content)).toEqual(['echo: start']);
    expect(w.discord.botMessages(earlier.id).map((m) => m.content)).toEqual(['echo: something to forget']);
    expect(w.h.anthropic.messageRequests()).toHaveLength(3);
  });

  it('only records missed messages older than the answer window', async () => {
    w = await startDiscordWorld({ answerMissedWithinMs: 0 });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('start'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages`, 'first answer');
    await w.h.core.idle();
    w.discord.invalidateSession();
    w.discord.seed(mention.id, w.bob, 'said long ago');
    await w.discord.gateway.waitFor((e) => e.kind === 'identify', 'second IDENTIFY', { since: w.discord.gateway.length, timeoutMs: 15_000 });
    const conversation = await w.h.store.conversations.find({ platform: 'discord', workspaceId: w.discord.guildId, channelId: w.general.id, threadKey: mention.id });
    await expect.poll(async () => (await w!.h.store.messages.thread(conversation!.id)).map((m) => m.text)).toContain('said long ago');
    w.discord.post(mention.id, w.alice, w.discord.mention('what did Bob say?'));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(allText(w.h.anthropic.messageRequests()[1]?.body)).toMatch(/Bob: said long ago[\s\S]*what did Bob say\?$/);
    expect(w.h.anthropic.messageRequests()).toHaveLength(2);
  });

  it('answers in the channel, replying to the mention, where it may not open threads', async () => {
    w = await startDiscordWorld();
    w.discord.threadlessChannels.add(w.general.id);
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('no threads here?'));
    await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${w?.general.id}/messages` && r.status === 200, 'answer in the channel');
    await w.h.core.idle();
    const answers = w.discord.botMessages(w.general.id);
    expect(answers.map((m) => [m.content, m.message_reference?.message_id])).toEqual([['echo: no threads here?', mention.id]]);
  });

  it('after a crash, finishes an answer owed in a channel without a thread, removing only its own half-posted reply', async () => {
    w = await startDiscordWorld();
    const world = w;
    world.discord.threadlessChannels.add(world.general.id);
    // What the dead run left: the mention stored with its job pending, half an answer posted (replying to
    // it) but never recorded, and in the same channel another conversation's answer.
    const mention = world.discord.seed(world.general.id, world.alice, world.discord.mention('are you still there?'));
    const thread = { platform: 'discord' as const, workspaceId: world.discord.guildId, channelId: world.general.id, threadKey: mention.id };
    await world.h.store.transaction(async (tx) => {
      const conversation = await tx.conversations.findOrCreate(thread, Date.now());
      const id = (await tx.messages.insert({ conversationId: conversation.id, platformMessageId: mention.id, authorId: world.alice.id, authorName: 'Alice', authorKind: 'user', role: 'user', text: 'are you still there?', createdAt: Date.now() })) as number;
      await tx.jobs.create(id, conversation.id, Date.now());
    });
    const half = world.discord.seed(world.general.id, world.discord.bot, 'I am st ▌', { message_reference: { message_id: mention.id, channel_id: world.general.id } });
    const other = world.discord.seed(world.general.id, world.discord.bot, 'an answer to someone else', { message_reference: { message_id: snowflake(), channel_id: world.general.id } });

    await world.h.core.resumePending('discord');
    await world.h.core.idle();
    const left = world.discord.botMessages(world.general.id);
    expect(left.map((m) => m.id)).not.toContain(half.id);
    expect(left.map((m) => [m.content, m.message_reference?.message_id])).toEqual([
      ['an answer to someone else', other.message_reference?.message_id],
      ['echo: are you still there?', mention.id],
    ]);
  });

  it('answers a mention sent while it was not running, once it starts again', { timeout: 20_000 }, async () => {
    w = await startDiscordWorld();
    const world = w;
    const mention = world.discord.post(world.general.id, world.alice, world.discord.mention('start'));
    await world.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages`, 'first answer');
    await world.h.core.idle();
    await world.adapter.stop();
    await world.adapter.close();
    world.discord.seed(mention.id, world.bob, `${world.discord.mention('are you back?')}`);
    // The same database and core, a new process's adapter: a fresh session that reads the thread back.
    const second = createDiscordAdapter({
      config: { token: world.discord.token, apiUrl: world.discord.apiUrl, guildId: world.discord.guildId, historyLimit: 500, shardCount: 'auto' },
      core: world.h.core,
      logger: world.h.logger,
      health: world.h.health,
      spacingMs: 20,
    });
    try {
      await second.start();
      await world.h.anthropic.waitForRequests(2);
      await world.h.core.idle();
      expect(world.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['echo: start', 'echo: Bob: are you back?']);
    } finally {
      await second.stop();
      await second.close();
    }
  });

  it('registers /instructions for Manage Server, and checks the permission on every call', async () => {
    w = await startDiscordWorld();
    const options = [{ type: 1, name: 'set', options: [{ type: 3, name: 'text', value: 'Always answer in French.' }] }];
    const forged = w.discord.interaction(w.general.id, w.bob, 'instructions', options, 0n);
    const refused = await w.discord.rest.waitFor((r) => r.path === `/interactions/${forged.id}/${forged.token}/callback`, 'refusal');
    expect(refused.body).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringMatching(/Only members with the Manage Server permission/) } });
    const allowed = w.discord.interaction(w.general.id, w.alice, 'instructions', options, PermissionFlagsBits.ManageGuild);
    const ok = await w.discord.rest.waitFor((r) => r.path === `/interactions/${allowed.id}/${allowed.token}/callback`, 'confirmation');
    expect(ok.body).toMatchObject({ data: { content: expect.stringMatching(/Server instructions set/) } });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('bonjour?'));
    await w.h.anthropic.waitForRequests(1);
    expect(JSON.stringify(w.h.anthropic.messageRequests()[0]?.body)).toContain('Always answer in French.');
    void mention;
  });
});
