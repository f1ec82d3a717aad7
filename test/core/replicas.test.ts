/**
 * Two ChatServices (two replicas) on one PostgreSQL database, each with its own store and fake
 * Messages API: what an admin does through one is in the other's next request, and a user over
 * the per-minute limit on one is over it on the other.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatService } from '../../src/core/chat-service.js';
import { createModelClient } from '../../src/core/model-client.js';
import { createCoreHarness, TEST_API_KEY, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { recordingSink } from '../helpers/recording-sink.js';

type Body = { model: string; system: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const lastRequest = (h: Harness) => h.anthropic.messageRequests().at(-1)?.body as unknown as Body;
const texts = (body: Body) => body.messages.flatMap((m) => m.content.filter((b) => b.type === 'text').map((b) => `${m.role}:${b.text}`));
const admin = { id: 'u-admin', name: 'Ada', isAdmin: true };
const MODELS = ['claude-opus-4-8', 'claude-haiku-4-5'];

describe.skipIf(TEST_DATABASE_URL === undefined)(`two replicas on one PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let a: Harness | undefined;
  let b: Harness | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    await a?.close();
    await b?.close();
    a = b = undefined;
    await database.reset();
  });
  const replicas = async () => {
    a = await createCoreHarness({ databaseUrl: database.url, anthropic: { models: MODELS } });
    b = await createCoreHarness({ databaseUrl: database.url, anthropic: { models: MODELS } });
    return { a, b };
  };
  const ask = (h: Harness | { core: ChatService }, text: string, author?: { id: string; name: string }) =>
    h.core.handle(inbound(text, { mentionsBot: true, ...(author === undefined ? {} : { author }) }), { sink: recordingSink });

  it('/instructions set through A is in B’s next request', async () => {
    const { a, b } = await replicas();
    expect((await ask(b, 'hello')).kind).toBe('answered');
    expect(JSON.stringify(lastRequest(b))).not.toContain('pirate');
    const reply = await a.core.runInstructionsCommand({ platform: THREAD.platform, workspaceId: THREAD.workspaceId, channelId: THREAD.channelId, actor: admin, action: 'set', scope: 'workspace', text: 'Talk like a pirate.' });
    expect(reply.ok).toBe(true);
    expect((await ask(b, 'and now?')).kind).toBe('answered');
    expect(JSON.stringify(lastRequest(b))).toContain('Talk like a pirate.');
  });

  it('/settings set model through A changes B’s next request’s model', async () => {
    const { a, b } = await replicas();
    await ask(b, 'hello');
    expect(lastRequest(b).model).toBe('claude-opus-4-8');
    const reply = await a.core.runSettingsCommand({ platform: THREAD.platform, workspaceId: THREAD.workspaceId, channelId: THREAD.channelId, actor: admin, action: 'set', scope: 'channel', key: 'model', value: 'claude-haiku-4-5' });
    expect(reply.ok).toBe(true);
    await ask(b, 'again');
    expect(lastRequest(b).model).toBe('claude-haiku-4-5');
  });

  it('/forget through A: B’s next request has no old history', async () => {
    const { a, b } = await replicas();
    await ask(b, 'remember the number 42');
    await ask(b, 'and 43');
    expect(texts(lastRequest(b))).toContain('user:remember the number 42');
    expect((await a.core.forgetThread(THREAD, admin)).ok).toBe(true);
    await ask(b, 'what numbers?');
    expect(texts(lastRequest(b))).toEqual(['user:what numbers?']);
  });

  it('a message recorded through A is in B’s next request, after B’s own earlier rows', async () => {
    const { a, b } = await replicas();
    await ask(b, 'first question');
    await a.core.ingest([inbound('a side note', { author: { id: 'u-bob', name: 'Bob' } })]);
    await ask(b, 'second question');
    expect(texts(lastRequest(b))).toEqual(['user:Alice: first question', 'assistant:echo: first question', 'user:Bob: a side note', 'user:Alice: second question']);
  });

  it('a user over the per-minute limit on A is limited on B', async () => {
    const { a, b } = await replicas();
    const limited = (h: Harness) =>
      new ChatService({
        store: h.store,
        model: createModelClient({ apiKey: TEST_API_KEY, baseUrl: h.anthropic.url, maxRetries: 0, idleTimeoutMs: 5000, logger: h.logger }),
        logger: h.logger,
        modelId: 'claude-opus-4-8',
        maxTokens: 512,
        contextBudgetTokens: 100_000,
        followUpWithoutMention: true,
        limits: { userPerMinute: 2, channelPerMinute: 100, dailyTokenBudget: 0 },
      });
    const onA = limited(a);
    const onB = limited(b);
    expect((await ask({ core: onA }, 'q1')).kind).toBe('answered');
    expect((await ask({ core: onB }, 'q2')).kind).toBe('answered');
    expect(await ask({ core: onB }, 'q3')).toMatchObject({ kind: 'limited', code: 'rate_limited' });
    expect(await ask({ core: onA }, 'q4')).toMatchObject({ kind: 'limited', code: 'rate_limited' });
    // Another user is not affected, on either replica.
    expect((await ask({ core: onB }, 'me too', { id: 'u-bob', name: 'Bob' })).kind).toBe('answered');
    await onA.idle();
    await onB.idle();
  });
});
