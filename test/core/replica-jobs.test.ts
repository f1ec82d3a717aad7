/**
 * Several replicas on one PostgreSQL database (issue #19): two ChatService instances, each with
 * its own store (pool), replica id and short lease, against one fake Messages API through the
 * real SDK. A replica that stops renewing has its job answered once by the other; a thread's
 * mentions taken in by different replicas are answered one at a time, in order; a replica that
 * shuts down gracefully gives its jobs back at once; Stop and Regenerate work from either
 * replica, and a regeneration is a job of its thread like an answer: once at a time, in turn. The clock is shared and injected: a lease
 * runs out only when the test moves the clock, never after a real wait.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { controlId } from '../../src/core/answer-controls/control-ids.js';
import { ChatService } from '../../src/core/chat-service.js';
import { createModelClient } from '../../src/core/model-client.js';
import type { ReplySink, ThreadRef } from '../../src/core/types.js';
import { Store } from '../../src/store/store.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.js';
import { captureLogger, createCoreHarness, TEST_API_KEY } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { recordingSink, type RecordingSink } from '../helpers/recording-sink.js';

const LEASE_MS = 1000;
/** Where Posts keeps the answers that regenerations of the answer to `questionId` posted. */
const regenerated = (questionId: string) => `regenerated ${questionId}`;

/** What every replica posted, by the message it answers; `posted(id)` resolves on the first answer to it. */
class Posts {
  readonly byMessage = new Map<string, Array<{ replica: string; sink: RecordingSink }>>();
  private readonly waiters = new Map<string, Array<() => void>>();

  sink(replica: string, messageId: string): ReplySink {
    const sink = recordingSink();
    const done = () => {
      for (const wake of this.waiters.get(messageId) ?? []) wake();
      this.waiters.delete(messageId);
    };
    const entry = { replica, sink };
    this.byMessage.set(messageId, [...(this.byMessage.get(messageId) ?? []), entry]);
    return {
      ...sink,
      start: sink.start,
      progress: sink.progress,
      finish: async (reply) => {
        const ids = await sink.finish(reply);
        done();
        return ids;
      },
      fail: async (message, code) => {
        const ids = await sink.fail(message, code);
        done();
        return ids;
      },
    };
  }

  posted(messageId: string): Promise<void> {
    if ((this.byMessage.get(messageId) ?? []).some(({ sink }) => sink.finished.length + sink.failed.length > 0)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(messageId, [...(this.waiters.get(messageId) ?? []), resolve]));
  }

  /** Who posted an answer to `messageId`, and what. */
  answers(messageId: string): Array<{ replica: string; text: string }> {
    return (this.byMessage.get(messageId) ?? []).flatMap(({ replica, sink }) => sink.finished.map((reply) => ({ replica, text: reply.text })));
  }
}

describe.skipIf(TEST_DATABASE_URL === undefined)(`replicas sharing PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let anthropic: FakeAnthropic;
  const opened: Array<{ core: ChatService; store: Store }> = [];
  /** The replicas' shared clock: it stands still unless a test moves it, so a lease ends only when a test says. */
  let clock = Date.now();
  const now = () => clock;
  let posts: Posts;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    await anthropic?.close();
    for (const { core, store } of opened.splice(0)) {
      await core.stopLeases({ release: false }).catch(() => undefined);
      await core.idle().catch(() => undefined);
      await store.close().catch(() => undefined);
    }
    await database.reset();
    clock = Date.now();
  });

  async function start(): Promise<void> {
    anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY });
    posts = new Posts();
  }

  async function replica(id: string, leaseMs = LEASE_MS): Promise<ChatService> {
    const store = await Store.open({ databasePath: '', databaseUrl: database.url });
    const { logger } = captureLogger([TEST_API_KEY], 'silent');
    const core = new ChatService({
      store,
      model: createModelClient({ apiKey: TEST_API_KEY, baseUrl: anthropic.url, maxRetries: 0, idleTimeoutMs: 60_000, logger }),
      logger,
      modelId: 'claude-opus-4-8',
      maxTokens: 512,
      contextBudgetTokens: 100_000,
      followUpWithoutMention: true,
      now,
      replicaId: id,
      replyLeaseMs: leaseMs,
    });
    core.registerPlatform('discord', {
      urlsArePublic: true,
      replySink: (_thread: ThreadRef, messageId: string) => posts.sink(id, messageId),
      replaceSink: (_thread: ThreadRef, questionId: string) => posts.sink(id, regenerated(questionId)),
    });
    opened.push({ core, store });
    return core;
  }

  /** Two replicas with leases so long that no sweep runs during a test. */
  async function twoReplicas(): Promise<[ChatService, ChatService]> {
    await start();
    return [await replica('A', 600_000), await replica('B', 600_000)];
  }

  /** The thread known to every replica: a first question answered by `on`. */
  async function answerFirstQuestion(on: ChatService): Promise<void> {
    const first = inbound('first question', { mentionsBot: true });
    await on.handle(first, { sink: () => posts.sink('A', first.messageId) });
  }

  it('answers, once and from a live replica, a mention whose replica stopped renewing mid-answer', async () => {
    await start();
    // Two live replicas sweep for it at once.
    const [a, b, c] = [await replica('A'), await replica('B'), await replica('C')];
    let never!: () => void;
    anthropic.enqueue({ text: 'the answer A never finishes', chunkSize: 4, pauseAfterChars: { chars: 8, until: new Promise<void>((resolve) => (never = resolve)) } });
    const question = inbound('what broke?', { mentionsBot: true });
    void a.handle(question, { sink: () => posts.sink('A (taken in)', question.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    // A dies: it stops renewing and never gives the job back.
    await a.stopLeases({ release: false });
    clock += LEASE_MS + 1;
    await posts.posted(question.messageId);
    await Promise.all([b.idle(), c.idle()]);
    expect(posts.answers(question.messageId)).toEqual([{ replica: expect.stringMatching(/^[BC]$/), text: 'echo: what broke?' }]);
    expect(anthropic.messageRequests()).toHaveLength(2);
    never();
  });

  it('a replica that stopped renewing and then finds its answer posts nothing: the replica that took the job over answers it, once', async () => {
    await start();
    const [a, b] = [await replica('A'), await replica('B')];
    let resume!: () => void;
    anthropic.enqueue({ text: 'the answer A finishes too late', chunkSize: 4, pauseAfterChars: { chars: 8, until: new Promise<void>((resolve) => (resume = resolve)) } });
    const question = inbound('what broke?', { mentionsBot: true });
    const onA = a.handle(question, { sink: () => posts.sink('A', question.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    // A freezes: it renews no more, and its lease runs out while the model writes.
    await a.stopLeases({ release: false });
    clock += LEASE_MS + 1;
    await posts.posted(question.messageId);
    await b.idle();
    expect(posts.answers(question.messageId)).toEqual([{ replica: 'B', text: 'echo: what broke?' }]);
    // A comes back and its model call ends: it leaves the reply to B.
    resume();
    expect(await onA).toEqual({ kind: 'failed', code: 'reply_abandoned', postedIds: [] });
    expect(posts.answers(question.messageId)).toEqual([{ replica: 'B', text: 'echo: what broke?' }]);
    const progressOnA = (posts.byMessage.get(question.messageId) ?? []).filter(({ replica }) => replica === 'A').flatMap(({ sink }) => sink.progressTexts);
    expect(progressOnA.every((text) => text.length <= 8)).toBe(true);
    const store = opened[1]?.store as Store;
    const conversation = await store.conversations.find(question.thread);
    expect((await store.messages.thread(conversation?.id as number)).filter((row) => row.role === 'assistant').map((row) => row.text)).toEqual(['echo: what broke?']);
  });

  it('answers two mentions of one thread taken in by different replicas in order, the second after the first is stored', async () => {
    // No sweep runs during the test: the second answer comes from A's handoff.
    const [a, b] = await twoReplicas();
    let finishFirst!: () => void;
    anthropic.enqueue({ text: 'first answer', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (finishFirst = resolve)) } });
    const first = inbound('first question', { mentionsBot: true });
    const second = inbound('second question', { mentionsBot: true });
    const firstOutcome = a.handle(first, { sink: () => posts.sink('A', first.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    // B takes in the follow-up while A answers: B records it and leaves it for A's turn.
    expect((await b.handle(second, { sink: () => posts.sink('B (taken in)', second.messageId) })).kind).toBe('recorded');
    expect(anthropic.messageRequests()).toHaveLength(1);
    finishFirst();
    expect((await firstOutcome).kind).toBe('answered');
    await posts.posted(second.messageId);
    expect(posts.answers(first.messageId)).toEqual([{ replica: 'A', text: 'first answer' }]);
    expect(posts.answers(second.messageId)).toEqual([{ replica: 'A', text: 'echo: second question' }]);
    // The second request already held the first answer.
    const secondRequest = anthropic.messageRequests()[1]?.body as { messages: Array<{ role: string; content: Array<{ text?: string }> }> };
    expect(secondRequest.messages.map((m) => `${m.role}:${m.content.map((c) => c.text ?? '').join('')}`)).toEqual([
      'user:first question',
      'assistant:first answer',
      'user:second question',
    ]);
  });

  it('answers a follow-up that waited behind a dead replica\'s answer after that answer, in order', async () => {
    await start();
    const [a, b] = [await replica('A'), await replica('B')];
    let never!: () => void;
    anthropic.enqueue({ text: 'A dies writing this', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (never = resolve)) } });
    const thread = { ...THREAD, threadKey: 'thread-dead-turn' };
    const first = inbound('first question', { mentionsBot: true, thread });
    const second = inbound('second question', { mentionsBot: true, thread });
    void a.handle(first, { sink: () => posts.sink('A (taken in)', first.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    expect((await b.handle(second, { sink: () => posts.sink('B (taken in)', second.messageId) })).kind).toBe('recorded');
    await a.stopLeases({ release: false });
    clock += LEASE_MS + 1;
    await posts.posted(second.messageId);
    await b.idle();
    expect(posts.answers(first.messageId)).toEqual([{ replica: 'B', text: 'echo: first question' }]);
    expect(posts.answers(second.messageId)).toEqual([{ replica: 'B', text: 'echo: second question' }]);
    const last = anthropic.messageRequests()[2]?.body as { messages: Array<{ role: string; content: Array<{ text?: string }> }> };
    expect(last.messages.map((m) => `${m.role}:${m.content.map((c) => c.text ?? '').join('')}`)).toEqual([
      'user:first question',
      'assistant:echo: first question',
      'user:second question',
    ]);
    never();
  });

  it('a replica that gave up an answer late does not answer the thread\'s next question before it: both are answered in order', async () => {
    await start();
    const a = await replica('A');
    const store = opened[0]?.store as Store;
    /** Resolves right after one of A's renewals has written its leases (so the next is a period away). */
    const renewed = async (jobId: number) => {
      clock += 1;
      await expect.poll(async () => (await store.jobs.leaseOf(jobId))?.expiresAt, { timeout: 5_000 }).toBe(clock + LEASE_MS);
    };
    let resumeFirst!: () => void;
    let resumeSecond!: () => void;
    anthropic.enqueue({ text: 'A gives this one up', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (resumeFirst = resolve)) } });
    anthropic.enqueue({ text: 'the second model call', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (resumeSecond = resolve)) } });
    const thread = { ...THREAD, threadKey: 'thread-given-up' };
    const first = inbound('first question', { mentionsBot: true, thread });
    const second = inbound('second question', { mentionsBot: true, thread });
    void a.handle(first, { sink: () => posts.sink('A', first.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    // The follow-up waits in A's own queue, behind the answer A is writing.
    void a.handle(second, { sink: () => posts.sink('A', second.messageId) });
    const jobs = async () => (await store.executor.all<{ id: number }>('SELECT id FROM reply_jobs ORDER BY id')).map((row) => row.id);
    await expect.poll(jobs).toHaveLength(2);
    const [firstJob, secondJob] = (await jobs()) as [number, number];
    // A stalls past its lease just as the first model call ends: it gives that answer up.
    await renewed(firstJob);
    clock += LEASE_MS + 1;
    resumeFirst();
    // Its renewals go on: one lands while the next model call (whichever A makes) is under way.
    await expect.poll(() => anthropic.messageRequests().length, { timeout: 5_000 }).toBe(2);
    await renewed(secondJob);
    resumeSecond();
    await posts.posted(first.messageId);
    await posts.posted(second.messageId);
    await a.idle();
    expect(posts.answers(first.messageId)).toHaveLength(1);
    expect(posts.answers(second.messageId)).toHaveLength(1);
    // The second question was answered from a thread that held the first answer.
    const last = anthropic.messageRequests().at(-1)?.body as { messages: Array<{ role: string; content: Array<{ text?: string }> }> };
    expect(last.messages.map((m) => `${m.role}:${m.content.map((c) => c.text ?? '').join('')}`)).toEqual([
      'user:first question',
      `assistant:${posts.answers(first.messageId)[0]?.text}`,
      'user:second question',
    ]);
  });

  it('answers a thread in order when two claims of one replica come back in the other order', async () => {
    await start();
    const [z, a] = [await replica('Z'), await replica('A')];
    const store = opened[1]?.store as Store;
    let never!: () => void;
    anthropic.enqueue({ text: 'Z dies writing this', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (never = resolve)) } });
    const thread = { ...THREAD, threadKey: 'thread-claims-reordered' };
    const first = inbound('first question', { mentionsBot: true, thread });
    const second = inbound('second question', { mentionsBot: true, thread });
    void z.handle(first, { sink: () => posts.sink('Z', first.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    await z.stopLeases({ release: false });
    // A's next claim (a sweep) takes Z's job, and its answer is held back until the claim that
    // takes the follow-up (intake's, once that claim's turn check sees the first job A's) is back.
    let sweepCalled!: () => void;
    const sweepStarted = new Promise<void>((resolve) => (sweepCalled = resolve));
    let runSweep!: () => void;
    const sweepMayRun = new Promise<void>((resolve) => (runSweep = resolve));
    let sweepClaimed!: ReturnType<typeof store.jobs.claim>;
    let followUpClaimed!: () => void;
    const followUpBack = new Promise<void>((resolve) => (followUpClaimed = resolve));
    const claim = store.jobs.claim.bind(store.jobs);
    let calls = 0;
    vi.spyOn(store.jobs, 'claim').mockImplementation(async (...args) => {
      calls += 1;
      if (calls === 1) {
        sweepCalled();
        await sweepMayRun;
        sweepClaimed = claim(...args);
        const taken = await sweepClaimed;
        await followUpBack;
        return taken;
      }
      if (calls === 2) {
        runSweep();
        await sweepClaimed;
        const taken = await claim(...args);
        // Back before the sweep's, which is released on the next turn of the event loop.
        setImmediate(followUpClaimed);
        return taken;
      }
      return claim(...args);
    });
    clock += LEASE_MS + 1;
    await sweepStarted;
    await a.handle(second, { sink: () => posts.sink('A (taken in)', second.messageId) });
    await posts.posted(first.messageId);
    await posts.posted(second.messageId);
    await a.idle();
    expect(posts.answers(first.messageId)).toHaveLength(1);
    expect(posts.answers(second.messageId)).toHaveLength(1);
    const last = anthropic.messageRequests().at(-1)?.body as { messages: Array<{ role: string; content: Array<{ text?: string }> }> };
    expect(last.messages.map((m) => `${m.role}:${m.content.map((c) => c.text ?? '').join('')}`)).toEqual(['user:first question', 'assistant:echo: first question', 'user:second question']);
    never();
  });

  it('lets another replica take a job at once when its replica shuts down gracefully', async () => {
    await start();
    const [a, b] = [await replica('A'), await replica('B')];
    let never!: () => void;
    anthropic.enqueue({ text: 'cut short by the shutdown', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (never = resolve)) } });
    const question = inbound('still there?', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-graceful' } });
    void a.handle(question, { sink: () => posts.sink('A (taken in)', question.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    // The shutdown deadline passed with the answer unfinished: A gives it back. No clock moves.
    a.stopTakingJobs();
    await a.stopLeases({ release: true });
    await posts.posted(question.messageId);
    expect(posts.answers(question.messageId)).toEqual([{ replica: 'B', text: 'echo: still there?' }]);
    await b.idle();
    never();
  });

  it('takes a mention in on a replica on its way out, but leaves the answer to another at once', async () => {
    await start();
    const [a, b] = [await replica('A'), await replica('B')];
    // SIGTERM: A takes no jobs any more and has given its leases back; its Slack server may still deliver an event.
    a.stopTakingJobs();
    await a.stopLeases({ release: true });
    const question = inbound('are you leaving?', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-leaving' } });
    expect((await a.handle(question, { sink: () => posts.sink('A (taken in)', question.messageId) })).kind).toBe('recorded');
    // B's next sweep takes it (no lease had to run out: the clock stands still).
    await posts.posted(question.messageId);
    expect(posts.answers(question.messageId)).toEqual([{ replica: 'B', text: 'echo: are you leaving?' }]);
    await b.idle();
  });

  it.each([
    ['a thread both know', true],
    ['a thread neither knows yet', false],
  ])('never answers a mention deleted on one replica before its create reached another, in %s', async (_name, known) => {
    const [a, b] = await twoReplicas();
    const thread = { ...THREAD, threadKey: known ? THREAD.threadKey : 'a-new-thread' };
    if (known) await answerFirstQuestion(a);
    const deleted = inbound('never mind', { mentionsBot: true, thread });
    await a.recordDelete(thread, deleted.messageId);
    expect(await b.handle(deleted, { sink: () => posts.sink('B', deleted.messageId) })).toEqual({ kind: 'ignored', reason: 'deleted' });
    expect(posts.answers(deleted.messageId)).toEqual([]);
    expect(anthropic.messageRequests()).toHaveLength(known ? 1 : 0);
  });

  it('answers the edited text of a mention edited on one replica before its create reached another', async () => {
    const [a, b] = await twoReplicas();
    await answerFirstQuestion(a);
    const edited = inbound('the first text', { mentionsBot: true });
    await a.recordEdit(edited.thread, edited.messageId, 'the edited text');
    await b.handle(edited, { sink: () => posts.sink('B', edited.messageId) });
    expect(posts.answers(edited.messageId)).toEqual([{ replica: 'B', text: 'echo: the edited text' }]);
  });

  it('deletes on the replica that took a mention in first a delete another replica could not find it for', async () => {
    const [a, b] = await twoReplicas();
    await answerFirstQuestion(a);
    const later = inbound('a later message');
    await b.handle(later, { sink: () => posts.sink('B', later.messageId) });
    // A's note as if A had looked before B's create committed: B applies it in its intake order.
    const store = opened[0]?.store as Store;
    await store.tellReplicas('early-change', JSON.stringify({ thread: later.thread, messageId: later.messageId, change: { kind: 'deleted', at: clock } }));
    const other = opened[1]?.store as Store;
    const conversation = await other.conversations.find(later.thread);
    await expect.poll(async () => (await other.messages.find(conversation?.id as number, later.messageId))?.deletedAt).toBe(clock);
  });

  it('stops an answer streaming on one replica from a Stop press that reached another', async () => {
    const [a, b] = await twoReplicas();
    let never!: () => void;
    anthropic.enqueue({ text: 'an answer that would go on and on', chunkSize: 4, pauseAfterChars: { chars: 8, until: new Promise<void>((resolve) => (never = resolve)) } });
    const question = inbound('tell me everything', { mentionsBot: true });
    const answered = a.handle(question, { sink: () => posts.sink('A', question.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(1);
    const store = opened[1]?.store as Store;
    const conversation = await store.conversations.find(question.thread);
    const stored = await store.messages.find(conversation?.id as number, question.messageId);
    const press = (actor: string) =>
      b.pressControl({ platform: 'discord', workspaceId: THREAD.workspaceId, controlId: controlId('stop', stored?.id as number), actor: { id: actor, name: actor, isAdmin: false } });
    expect((await press('u-mallory')).text).toMatch(/only the person who asked or an admin can stop/i);
    expect(await press(question.author.id)).toEqual({});
    expect(await answered).toMatchObject({ kind: 'answered', stopped: true });
    // What was written before the stop stands as the answer (the fake pauses after 8 characters).
    expect(posts.answers(question.messageId)).toEqual([{ replica: 'A', text: 'an answe' }]);
    // Stored and finished: a later press is told so, on either replica.
    expect((await press(question.author.id)).text).toMatch(/already finished/);
    never();
  });

  it('regenerates an answer once among replicas, and stops the regeneration from a Stop press that reached another', async () => {
    const [a, b] = await twoReplicas();
    const question = inbound('tell me everything', { mentionsBot: true });
    await a.handle(question, { sink: () => posts.sink('A', question.messageId) });
    let resume!: () => void;
    anthropic.enqueue({ text: 'a second answer that would go on', chunkSize: 4, pauseAfterChars: { chars: 8, until: new Promise<void>((resolve) => (resume = resolve)) } });
    const store = opened[1]?.store as Store;
    const conversation = await store.conversations.find(question.thread);
    const stored = await store.messages.find(conversation?.id as number, question.messageId);
    const press = (on: ChatService, action: 'regen' | 'stop') =>
      on.pressControl({ platform: 'discord', workspaceId: THREAD.workspaceId, controlId: controlId(action, stored?.id as number), actor: { id: question.author.id, name: 'Alice', isAdmin: false } });
    expect(await press(a, 'regen')).toEqual({});
    await expect.poll(() => anthropic.messageRequests().length).toBe(2);
    // A second press that reached the other replica starts no second regeneration.
    expect((await press(b, 'regen')).text).toMatch(/already being written/);
    // Stop reaches the regeneration where it runs.
    expect(await press(b, 'stop')).toEqual({});
    await posts.posted(regenerated(question.messageId));
    await a.idle();
    expect(posts.answers(regenerated(question.messageId))).toEqual([{ replica: 'A', text: 'a second' }]);
    expect(anthropic.messageRequests()).toHaveLength(2);
    resume();
    // Once it is over, either replica may regenerate again (its job is closed).
    await expect.poll(async () => (await press(b, 'regen')).text).toBeUndefined();
    await b.idle();
    expect(posts.answers(regenerated(question.messageId)).map(({ replica }) => replica)).toEqual(['A', 'B']);
  });

  /** What a request sent, turn by turn. */
  const turnsOf = (request: unknown) =>
    (request as { messages: Array<{ role: string; content: Array<{ text?: string }> }> }).messages.map((m) => `${m.role}:${m.content.map((c) => c.text ?? '').join('')}`);

  async function questionRow(store: Store, question: ReturnType<typeof inbound>): Promise<number> {
    const conversation = await store.conversations.find(question.thread);
    return (await store.messages.find(conversation?.id as number, question.messageId))?.id as number;
  }

  const regen = async (on: ChatService, questionId: number, actor: string) =>
    on.pressControl({ platform: 'discord', workspaceId: THREAD.workspaceId, controlId: controlId('regen', questionId), actor: { id: actor, name: actor, isAdmin: false } });

  it('gives a regeneration the thread\'s turn: a mention another replica takes in meanwhile is answered after it, from the new answer', async () => {
    const [a, b] = await twoReplicas();
    const question = inbound('tell me everything', { mentionsBot: true });
    await a.handle(question, { sink: () => posts.sink('A', question.messageId) });
    let resume!: () => void;
    anthropic.enqueue({ text: 'a better answer', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (resume = resolve)) } });
    expect(await regen(a, await questionRow(opened[0]?.store as Store, question), question.author.id)).toEqual({});
    await expect.poll(() => anthropic.messageRequests().length).toBe(2);
    // B takes in a follow-up while A regenerates: it waits for A's turn, as behind any answer.
    const followUp = inbound('and then?', { mentionsBot: true });
    expect((await b.handle(followUp, { sink: () => posts.sink('B (taken in)', followUp.messageId) })).kind).toBe('recorded');
    expect(anthropic.messageRequests()).toHaveLength(2);
    resume();
    await posts.posted(followUp.messageId);
    await Promise.all([a.idle(), b.idle()]);
    expect(posts.answers(regenerated(question.messageId))).toEqual([{ replica: 'A', text: 'a better answer' }]);
    expect(posts.answers(followUp.messageId)).toEqual([{ replica: 'A', text: 'echo: and then?' }]);
    expect(turnsOf(anthropic.messageRequests()[2]?.body)).toEqual(['user:tell me everything', 'assistant:a better answer', 'user:and then?']);
  });

  it('waits with a regeneration for the answer another replica is writing in the thread, which then regenerates in place', async () => {
    const [a, b] = await twoReplicas();
    const first = inbound('first question', { mentionsBot: true });
    await a.handle(first, { sink: () => posts.sink('A', first.messageId) });
    let resume!: () => void;
    anthropic.enqueue({ text: 'second answer', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (resume = resolve)) } });
    const second = inbound('second question', { mentionsBot: true });
    const answeringSecond = b.handle(second, { sink: () => posts.sink('B', second.messageId) });
    await expect.poll(() => anthropic.messageRequests().length).toBe(2);
    // Regenerate the first answer on A while B writes the second: it waits for B's turn to end.
    anthropic.enqueue({ text: 'a new first answer' });
    expect(await regen(a, await questionRow(opened[0]?.store as Store, first), first.author.id)).toEqual({});
    expect(anthropic.messageRequests()).toHaveLength(2);
    expect((await regen(b, await questionRow(opened[1]?.store as Store, first), first.author.id)).text).toMatch(/already being written/);
    resume();
    expect((await answeringSecond).kind).toBe('answered');
    await posts.posted(regenerated(first.messageId));
    await Promise.all([a.idle(), b.idle()]);
    // B, whose turn it was, took the waiting regeneration up and wrote it into the first answer's place.
    expect(posts.answers(regenerated(first.messageId))).toEqual([{ replica: 'B', text: 'a new first answer' }]);
    expect(posts.answers(first.messageId)).toEqual([{ replica: 'A', text: 'echo: first question' }]);
    expect(turnsOf(anthropic.messageRequests()[2]?.body)).toEqual(['user:first question']);
    const store = opened[1]?.store as Store;
    const conversation = await store.conversations.find(first.thread);
    expect((await store.messages.thread(conversation?.id as number)).filter((row) => row.role === 'assistant').map((row) => row.text).sort()).toEqual(['a new first answer', 'second answer']);
  });

  it('regenerates in place, once, on a live replica an answer whose regenerating replica stopped renewing', async () => {
    await start();
    const [a, b] = [await replica('A'), await replica('B')];
    const question = inbound('tell me everything', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-dead-regeneration' } });
    await a.handle(question, { sink: () => posts.sink('A', question.messageId) });
    let never!: () => void;
    anthropic.enqueue({ text: 'A dies writing this', chunkSize: 4, pauseAfterChars: { chars: 4, until: new Promise<void>((resolve) => (never = resolve)) } });
    expect(await regen(a, await questionRow(opened[0]?.store as Store, question), question.author.id)).toEqual({});
    await expect.poll(() => anthropic.messageRequests().length).toBe(2);
    await a.stopLeases({ release: false });
    clock += LEASE_MS + 1;
    await expect.poll(() => posts.answers(regenerated(question.messageId))).toEqual([{ replica: 'B', text: 'echo: tell me everything' }]);
    await b.idle();
    // In place: no second answer to the question.
    expect(posts.answers(question.messageId)).toEqual([{ replica: 'A', text: 'echo: tell me everything' }]);
    const store = opened[1]?.store as Store;
    const conversation = await store.conversations.find(question.thread);
    expect((await store.messages.thread(conversation?.id as number)).filter((row) => row.role === 'assistant').map((row) => row.text)).toEqual(['echo: tell me everything']);
    expect(await store.jobs.open()).toEqual([]);
    never();
  });
});

describe('one process on SQLite', () => {
  it('holds every job it takes in, and at start takes every open job, whoever held it', async () => {
    const h = await createCoreHarness();
    try {
      const posted: string[] = [];
      h.core.registerPlatform('discord', { urlsArePublic: true, replySink: (_thread: ThreadRef, messageId: string) => ({ ...recordingSink(), finish: async () => (posted.push(messageId), ['p']) }) });
      const question = inbound('hello', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-sqlite' } });
      expect((await h.core.handle(question, { sink: recordingSink })).kind).toBe('answered');
      const conversation = await h.store.conversations.find(question.thread);
      const stored = await h.store.messages.find(conversation?.id as number, question.messageId);
      const job = await h.store.jobs.forMessage(stored?.id as number);
      expect(await h.store.jobs.leaseOf(job?.id as number)).toMatchObject({ owner: h.core.replicaId });
      // A job another process held alive (a lease far from over) is still this one's at start: SQLite has one process.
      const left = inbound('left behind', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-sqlite' } });
      await h.store.transaction(async (tx) => {
        const id = (await tx.messages.insert({ conversationId: conversation?.id as number, platformMessageId: left.messageId, authorId: 'u', authorName: 'U', authorKind: 'user', role: 'user', text: left.text, createdAt: left.createdAt })) as number;
        await tx.jobs.create(id, conversation?.id as number, Date.now(), { owner: 'a previous run', expiresAt: Date.now() + 3_600_000 });
      });
      await h.core.resumePending('discord');
      expect(posted).toEqual([left.messageId]);
      expect(await h.store.jobs.open()).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('at start, regenerates in place the answer a previous run was regenerating when it stopped', async () => {
    const h = await createCoreHarness();
    try {
      const posted: string[] = [];
      const replaced: string[] = [];
      h.core.registerPlatform('discord', {
        urlsArePublic: true,
        replySink: (_thread: ThreadRef, messageId: string) => ({ ...recordingSink(), finish: async () => (posted.push(messageId), ['p']) }),
        replaceSink: (_thread: ThreadRef, messageId: string, ids: readonly string[]) => ({ ...recordingSink(), finish: async (reply) => (replaced.push(`${messageId}: ${reply.text}`), [...ids]) }),
      });
      const question = inbound('hello', { mentionsBot: true, thread: { ...THREAD, threadKey: 'thread-sqlite-regeneration' } });
      await h.core.handle(question, { sink: () => ({ ...recordingSink(), finish: async () => ['the answer'] }) });
      const conversation = await h.store.conversations.find(question.thread);
      const stored = await h.store.messages.find(conversation?.id as number, question.messageId);
      // A Regenerate press reopened the question's job, and that run ended before the new answer was stored.
      await h.store.transaction(async (tx) => {
        await tx.jobs.removeFinished(stored?.id as number);
        await tx.jobs.create(stored?.id as number, conversation?.id as number, Date.now(), { owner: 'a previous run', expiresAt: Date.now() + 3_600_000 });
      });
      h.anthropic.enqueue({ text: 'a new answer' });
      await h.core.resumePending('discord');
      expect(replaced).toEqual([`${question.messageId}: a new answer`]);
      expect(posted).toEqual([]);
      expect((await h.store.messages.thread(conversation?.id as number)).filter((row) => row.role === 'assistant').map((row) => row.text)).toEqual(['a new answer']);
      expect(await h.store.jobs.open()).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
