/**
 * A channel mention's thread is opened by its answer's first write: by the replica that took
 * the mention in, or by one that takes the answer over (a restart, a replica that died before
 * it opened the thread). Either way it is opened once and answered in; a thread opened meanwhile
 * by someone else is answered in; a mention deleted before its thread opened is not answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter, type DiscordAdapter } from '../../src/adapters/discord/index.js';
import type { PlatformServices, ThreadRef } from '../../src/core/types.js';
import { startFakeDiscord, type FakeChannel, type FakeDiscord, type FakeMessage } from '../fakes/discord/fake-discord.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { NO_SHARDS, registeredServices, startDiscordWorld, type DiscordWorld } from './setup.js';

const threadOpenings = (fake: FakeDiscord, messageId: string) => fake.rest.entries.filter((r) => r.method === 'POST' && r.path.endsWith(`/messages/${messageId}/threads`)).map((r) => r.status);

/** An adapter whose reply services a test calls as the core's takeover would. */
interface Replica {
  readonly fake: FakeDiscord;
  readonly channel: FakeChannel;
  readonly services: PlatformServices;
  close(): Promise<void>;
}

/** `shards: 'none'`: a replica holding no shard, posting through REST alone; `'all'`: one holding every shard. */
async function startReplica(shards: 'none' | 'all'): Promise<Replica> {
  const fake = await startFakeDiscord();
  const channel = fake.addTextChannel('general');
  const h: Harness = await createCoreHarness({ secrets: [fake.token] });
  const services = registeredServices(h);
  const adapter: DiscordAdapter = createDiscordAdapter({
    config: { token: fake.token, apiUrl: fake.apiUrl, guildId: fake.guildId, historyLimit: 500, shardCount: 'auto' },
    core: h.core,
    logger: h.logger,
    health: h.health,
    spacingMs: 20,
    ...(shards === 'none' ? { shards: NO_SHARDS } : {}),
  });
  h.health.enable('discord');
  await adapter.start();
  return {
    fake,
    channel,
    services: services(),
    async close() {
      await adapter.stop();
      await h.core.idle();
      await adapter.close();
      await h.close();
      await fake.close();
    },
  };
}

/** The answer a takeover posts for `question`, through the platform's reply sink. */
async function answerTakenOver(replica: Replica, question: FakeMessage, text: string) {
  const thread: ThreadRef = { platform: 'discord', workspaceId: replica.fake.guildId, channelId: replica.channel.id, threadKey: question.id };
  const sink = replica.services.replySink?.(thread, question.id);
  if (sink === undefined) throw new Error('no reply sink');
  await sink.start();
  return sink.finish({ text });
}

describe('Discord: a taken-over answer to a channel mention whose thread was never opened', () => {
  let replica: Replica | undefined;
  afterEach(async () => {
    await replica?.close();
    replica = undefined;
  });

  for (const shards of ['none', 'all'] as const) {
    it(`opens the thread once and answers there (${shards === 'none' ? 'a replica without the shard, through REST' : 'a replica holding the shard'})`, async () => {
      replica = await startReplica(shards);
      const { fake, channel } = replica;
      const question = fake.seed(channel.id, fake.user('100000000000000001', 'Alice'), fake.mention('left by a replica that died'));
      const posted = await answerTakenOver(replica, question, 'answered by the replica that took over');
      expect(fake.botMessages(question.id).map((m) => m.content)).toEqual(['answered by the replica that took over']);
      expect(fake.botMessages(question.id).map((m) => m.id)).toEqual([...posted]);
      // Its starter is the mention, in the parent: no reply reference, and nothing in the channel.
      expect(fake.botMessages(question.id)[0]?.message_reference).toBeUndefined();
      expect(fake.botMessages(channel.id)).toEqual([]);
      expect(threadOpenings(fake, question.id)).toEqual([201]);
      expect(fake.channels.get(question.id)?.name).toBe('left by a replica that died');
    });

    it(`answers in the thread someone opened while it looked for it (${shards})`, async () => {
      replica = await startReplica(shards);
      const { fake, channel } = replica;
      const question = fake.seed(channel.id, fake.user('100000000000000001', 'Alice'), fake.mention('opened meanwhile'));
      // Not there when looked up; opened (by the dying replica's last request, say) before this one opens it.
      const lookup = fake.hold((method, path) => method === 'GET' && path === `/channels/${question.id}`);
      const answering = answerTakenOver(replica, question, 'answered in the thread that was there');
      await lookup.arrived;
      fake.addThread(channel.id, 'opened meanwhile', question.id);
      lookup.release();
      await answering;
      expect(fake.botMessages(question.id).map((m) => m.content)).toEqual(['answered in the thread that was there']);
      expect(fake.botMessages(channel.id)).toEqual([]);
      expect(threadOpenings(fake, question.id)).toEqual([400]);
    });
  }

  it('posts nothing, and opens no thread, for a mention deleted before its thread opened', async () => {
    replica = await startReplica('none');
    const { fake, channel } = replica;
    const question = fake.seed(channel.id, fake.user('100000000000000001', 'Alice'), fake.mention('deleted while nobody watched'));
    fake.remove(channel.id, question.id, false);
    expect(await answerTakenOver(replica, question, 'an answer to nothing')).toEqual([]);
    expect(fake.botMessages(channel.id)).toEqual([]);
    expect(fake.channels.has(question.id)).toBe(false);
  });
});

describe('Discord: a live channel mention whose thread cannot be opened as usual', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('answers in the thread someone else opened on the mention first', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('a question someone threads at once'));
    w.discord.addThread(w.general.id, 'opened by a person', mention.id);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.discord.botMessages(mention.id).map((m) => m.content)).toEqual(['echo: a question someone threads at once']);
    expect(w.discord.botMessages(w.general.id)).toEqual([]);
    expect(threadOpenings(w.discord, mention.id)).toEqual([400]);
  });

  it('posts its answer nowhere when the mention is deleted before its thread opened (the delete not yet received)', async () => {
    w = await startDiscordWorld();
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('deleted before the thread'));
    w.discord.remove(w.general.id, mention.id, false);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(threadOpenings(w.discord, mention.id)).toEqual([404]);
    expect(w.discord.botMessages(w.general.id)).toEqual([]);
    expect(w.discord.channels.has(mention.id)).toBe(false);
    // A later mention is answered as usual.
    const later = w.discord.post(w.general.id, w.alice, w.discord.mention('a real question'));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(w.discord.botMessages(later.id).map((m) => m.content)).toEqual(['echo: a real question']);
  });
});
