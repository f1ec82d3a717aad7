import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatService } from '../../src/core/chat-service.js';
import { createModelClient } from '../../src/core/model-client.js';
import type { InboundMessage, ReplySink, ThreadRef } from '../../src/core/types.js';
import { captureLogger, createCoreHarness, TEST_API_KEY, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { recordingSink, type RecordingSink } from '../helpers/recording-sink.js';

describe('limits, restart recovery, usage, forget, retention', () => {
  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function serviceOn(harness: Harness, over: Partial<ConstructorParameters<typeof ChatService>[0]>): ChatService {
    return new ChatService({
      store: harness.store,
      model: createModelClient({ apiKey: TEST_API_KEY, baseUrl: harness.anthropic.url, maxRetries: 0, idleTimeoutMs: 5000, logger: harness.logger }),
      logger: harness.logger,
      modelId: 'claude-opus-4-8',
      maxTokens: 512,
      contextBudgetTokens: 100_000,
      followUpWithoutMention: true,
      ...over,
    });
  }

  /** What a run that died before answering leaves behind: the mention stored, its job pending. */
  async function leftPending(harness: Harness, msg: InboundMessage, jobCreatedAt = Date.now()): Promise<{ messageId: number; jobId: number }> {
    return harness.store.transaction(async (store) => {
      const conversation = await store.conversations.findOrCreate(msg.thread, msg.createdAt);
      const messageId = (await store.messages.insert({ conversationId: conversation.id, platformMessageId: msg.messageId, authorId: 'u-alice', authorName: 'Alice', authorKind: 'user', role: 'user', text: msg.text, createdAt: msg.createdAt })) as number;
      return { messageId, jobId: (await store.jobs.create(messageId, conversation.id, jobCreatedAt)) as number };
    });
  }

  /** Registers Discord with reply sinks that record, by the message they answer. */
  function recordingPlatform(harness: Harness): Map<string, RecordingSink> {
    const sinks = new Map<string, RecordingSink>();
    harness.core.registerPlatform('discord', {
      urlsArePublic: true,
      replySink: (_thread: ThreadRef, messageId: string): ReplySink => {
        const sink = recordingSink();
        sinks.set(messageId, sink);
        return sink;
      },
    });
    return sinks;
  }

  it('rate-limits a user politely, recording the message without a model call', async () => {
    h = await createCoreHarness();
    const core = serviceOn(h, { limits: { userPerMinute: 2, channelPerMinute: 100, dailyTokenBudget: 0 } });
    const sinks: RecordingSink[] = [];
    const outcomes = [];
    for (let i = 0; i < 3; i += 1) {
      const sink = recordingSink();
      sinks.push(sink);
      outcomes.push(await core.handle(inbound(`q${i}`, { mentionsBot: true }), { sink: () => sink }));
    }
    expect(outcomes.map((o) => o.kind)).toEqual(['answered', 'answered', 'limited']);
    expect(sinks[2]?.failed[0]?.message).toMatch(/faster than I can keep up.*try again in \d+ seconds/);
    expect(h.anthropic.messageRequests()).toHaveLength(2);
    // Another user is not affected.
    const other = await core.handle(inbound('me too', { mentionsBot: true, author: { id: 'u-bob', name: 'Bob' } }), { sink: recordingSink });
    expect(other.kind).toBe('answered');
  });

  it('stops at the daily token budget and says when it resets', async () => {
    h = await createCoreHarness();
    const core = serviceOn(h, { limits: { userPerMinute: 0, channelPerMinute: 0, dailyTokenBudget: 10 } });
    await core.handle(inbound('first', { mentionsBot: true }), { sink: recordingSink });
    const sink = recordingSink();
    const outcome = await core.handle(inbound('second', { mentionsBot: true }), { sink: () => sink });
    expect(outcome).toMatchObject({ kind: 'limited', code: 'budget_exhausted' });
    expect(sink.failed[0]?.message).toMatch(/This server has used today's Claude budget. It resets at midnight UTC/);
  });

  it('answers every mention left pending by a crash exactly once after restart, and apologizes for stale ones', async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-restart-'));
    const databasePath = join(dir, 'db.sqlite');
    // First run: the model never answers (stall) and the process "dies" with the jobs pending.
    h = await createCoreHarness({ databasePath });
    const fresh = inbound('still wanted', { mentionsBot: true });
    const old = inbound('ancient', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-old' } });
    await leftPending(h, fresh);
    await leftPending(h, old, Date.now() - 3 * 3600_000);
    await h.close();

    h = await createCoreHarness({ databasePath });
    const sinks = recordingPlatform(h);
    await h.core.resumePending('discord');
    await h.core.resumePending('discord');
    expect(sinks.get(fresh.messageId)?.finished).toEqual([{ text: 'echo: still wanted' }]);
    expect(sinks.get(old.messageId)?.failed[0]?.message).toMatch(/restarted before I could answer/);
    expect(h.anthropic.messageRequests()).toHaveLength(1);
    expect(await h.store.jobs.open()).toEqual([]);
  });

  it('after a crash, answers both a pending mention and a follow-up to it that the catch-up brings in first', async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-follow-up-'));
    const databasePath = join(dir, 'db.sqlite');
    h = await createCoreHarness({ databasePath });
    const mention = inbound('what about the outage?', { mentionsBot: true });
    await leftPending(h, mention);
    await h.close();

    // Restart: the follow-up, written while the bot was down, is read back before the pending job is taken up.
    h = await createCoreHarness({ databasePath });
    const sinks = recordingPlatform(h);
    const followUp = inbound('and is it fixed now?');
    const followUpSink = recordingSink();
    const answeringFollowUp = h.core.handle(followUp, { sink: () => followUpSink });
    await h.core.resumePending('discord');
    expect((await answeringFollowUp).kind).toBe('answered');
    expect(sinks.get(mention.messageId)?.finished).toEqual([{ text: 'echo: what about the outage?' }]);
    expect(followUpSink.finished).toEqual([{ text: 'echo: and is it fixed now?' }]);
    expect(await h.store.jobs.open()).toEqual([]);
  });

  it('counts the restarts that take a mention up, and apologizes instead once three restarts in a row did', async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-resumes-'));
    const databasePath = join(dir, 'db.sqlite');
    h = await createCoreHarness({ databasePath });
    const poison = inbound('the one that kills the process', { mentionsBot: true });
    const normal = inbound('an ordinary question', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-normal' } });
    const stored = new Map<string, number>();
    for (const msg of [poison, normal]) {
      const { messageId, jobId } = await leftPending(h, msg);
      stored.set(msg.messageId, messageId);
      // Three earlier starts took the poisonous one up and died while answering it; the other one, twice.
      for (let i = 0; i < (msg === poison ? 3 : 2); i += 1) await h.store.jobs.resumed(jobId, Date.now());
    }
    await h.close();

    h = await createCoreHarness({ databasePath });
    const sinks = recordingPlatform(h);
    await h.core.resumePending('discord');
    expect(sinks.get(poison.messageId)?.failed[0]?.message).toMatch(/restarted while answering it several times/);
    expect(sinks.get(normal.messageId)?.finished).toEqual([{ text: 'echo: an ordinary question' }]);
    expect(h.anthropic.messageRequests()).toHaveLength(1);
    expect((await h.store.jobs.forMessage(stored.get(normal.messageId) as number))?.attempts).toBe(3);
    expect(await h.store.jobs.open()).toEqual([]);
  });

  it('does not resume a job this process is already answering (an event that beat the resume)', async () => {
    const harness = await createCoreHarness();
    h = harness;
    harness.anthropic.enqueue({ text: 'slow answer', chunkSize: 4, chunkDelayMs: 20 });
    const replySink = vi.fn((): ReplySink => recordingSink());
    harness.core.registerPlatform('discord', { urlsArePublic: true, replySink });
    const sink = recordingSink();
    const live = harness.core.handle(inbound('arrived first', { mentionsBot: true }), { sink: () => sink });
    await expect.poll(() => harness.anthropic.messageRequests().length).toBe(1);
    // The adapter's start-up resume runs while that answer streams: its job is open in the database.
    await harness.core.resumePending('discord');
    await live;
    expect(sink.finished).toEqual([{ text: 'slow answer' }]);
    expect(replySink).not.toHaveBeenCalled();
    expect(harness.anthropic.messageRequests()).toHaveLength(1);
  });

  it('reports usage by channel and user to admins only', async () => {
    h = await createCoreHarness();
    await h.core.handle(inbound('one', { mentionsBot: true }), { sink: recordingSink });
    await h.core.handle(inbound('two', { mentionsBot: true, author: { id: 'u-bob', name: 'Bob' } }), { sink: recordingSink });
    const command = { platform: 'discord', workspaceId: THREAD.workspaceId, days: 7, actor: { id: 'a', name: 'Ada', isAdmin: true } } as const;
    const report = (await h.core.runUsageCommand(command)).text;
    expect(report).toMatch(/last 7 days/);
    expect(report).toMatch(/#chan-1: 2 replies/);
    expect(report).toMatch(/u-alice: 1 reply/);
    expect(report).toMatch(/u-bob: 1 reply/);
    expect(await h.core.runUsageCommand({ ...command, actor: { ...command.actor, isAdmin: false } })).toEqual({ ok: false, text: 'Only admins can see usage.' });
    expect((await h.core.runUsageCommand({ ...command, workspaceId: 'other-guild' })).text).toMatch(/No replies/);
  });

  it('forgets a thread on an admin request; the next mention starts afresh', async () => {
    h = await createCoreHarness();
    await h.core.handle(inbound('secret plan', { mentionsBot: true }), { sink: recordingSink });
    expect((await h.core.forgetThread(THREAD, { id: 'x', isAdmin: false })).ok).toBe(false);
    expect((await h.core.forgetThread(THREAD, { id: 'a', isAdmin: true })).text).toMatch(/no longer remember/);
    await h.core.handle(inbound('what was the plan?', { mentionsBot: true }), { sink: recordingSink });
    expect(JSON.stringify(h.anthropic.messageRequests()[1]?.body)).not.toContain('secret plan');
  });

  it('prunes messages past the retention period', async () => {
    h = await createCoreHarness();
    await h.core.handle(inbound('old news', { mentionsBot: true, createdAt: Date.now() - 100 * 86_400_000 }), { sink: recordingSink });
    const result = await h.core.prune(90);
    expect(result.messages).toBe(1);
    const conversation = await h.store.conversations.find(THREAD);
    expect((await h.store.messages.thread(conversation?.id ?? -1)).map((m) => m.text)).toEqual(['echo: old news']);
  });

  it('never writes a secret to the log, even when an error quotes it', async () => {
    const { logger, lines } = captureLogger([TEST_API_KEY, 'xoxb-very-secret']);
    logger.error({ err: new Error(`request to https://x?token=xoxb-very-secret failed`), headers: { authorization: `Bearer ${TEST_API_KEY}` } }, 'boom');
    logger.flush();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const all = lines.join('\n');
    expect(all).toContain('boom');
    expect(all).not.toContain('xoxb-very-secret');
    expect(all).not.toContain(TEST_API_KEY);
  });
});

describe('isolation between workspaces', () => {
  it('keeps history and instructions of two workspaces apart, even with identical channel and thread ids', async () => {
    const h = await createCoreHarness();
    try {
      const a = { platform: 'slack', workspaceId: 'T-A', channelId: 'C1', threadKey: 'C1:1.0' } as const;
      const b = { ...a, workspaceId: 'T-B' };
      await h.core.runInstructionsCommand({ platform: 'slack', workspaceId: 'T-A', channelId: 'C1', actor: { id: 'x', name: 'X', isAdmin: true }, action: 'set', scope: 'workspace', text: 'SECRET RULE OF A' });
      await h.core.handle(inbound('alpha secret plan', { thread: a, mentionsBot: true }), { sink: recordingSink });
      await h.core.handle(inbound('hello from b', { thread: b, mentionsBot: true }), { sink: recordingSink });
      const bodyB = JSON.stringify(h.anthropic.messageRequests()[1]?.body);
      expect(bodyB).not.toContain('alpha secret plan');
      expect(bodyB).not.toContain('SECRET RULE OF A');
      expect((await h.core.runInstructionsCommand({ platform: 'slack', workspaceId: 'T-B', channelId: 'C1', actor: { id: 'y', name: 'Y', isAdmin: true }, action: 'show', scope: 'workspace' })).text).toMatch(/Workspace instructions: none/);
      expect((await h.core.runUsageCommand({ platform: 'slack', workspaceId: 'T-B', days: 7, actor: { id: 'y', name: 'Y', isAdmin: true } })).text).toMatch(/1 reply/);
    } finally {
      await h.close();
    }
  });
});
