/**
 * Intake reads the caches ahead of its replica barrier (store.readAhead) and checks them before
 * anything commits: a change another replica committed before the mention arrived, whose
 * notification is still on its way, must still decide the mention (here `/settings answers off`
 * through A, the mention at B), and a mention with nothing changed passes one barrier only.
 */
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { onEachBarrier } from '../helpers/barriers.js';
import { recordingSink } from '../helpers/recording-sink.js';

const admin = { id: 'u-admin', name: 'Ada', isAdmin: true };

/**
 * Holds the cache notifications `h`'s listener receives, as if still on the wire, until the next
 * barrier's own notification comes: then they are handled first, in order, as the socket would
 * have delivered them.
 */
function notificationsInFlight(h: Harness): { held: () => number } {
  const client = (h.store.replication as unknown as { listener: { client: pg.Client } }).listener.client;
  const emit = client.emit.bind(client);
  const held: unknown[][] = [];
  vi.spyOn(client, 'emit').mockImplementation((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'notification') return emit(event, ...args);
    if ((args[0] as pg.Notification).channel === 'threadline_cache') {
      held.push(args);
      return true;
    }
    for (const earlier of held.splice(0)) emit('notification', ...earlier);
    return emit(event, ...args);
  });
  return { held: () => held.length };
}

describe.skipIf(TEST_DATABASE_URL === undefined)(`intake reads ahead of the barrier${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  const harnesses: Harness[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const h of harnesses.splice(0)) await h.close();
    await database.reset();
  });
  const replica = async () => {
    const h = await createCoreHarness({ databaseUrl: database.url });
    harnesses.push(h);
    return h;
  };

  it('a setting another replica committed before the mention, its notification still on the wire, decides the mention', async () => {
    const [a, b] = [await replica(), await replica()];
    // B knows the thread and has the channel's settings cached.
    expect((await b.core.handle(inbound('hello', { mentionsBot: true }), { sink: recordingSink })).kind).toBe('answered');
    const wire = notificationsInFlight(b);
    const off = await a.core.runSettingsCommand({ platform: THREAD.platform, workspaceId: THREAD.workspaceId, channelId: THREAD.channelId, actor: admin, action: 'set', scope: 'channel', key: 'answers', value: 'off' });
    expect(off.ok).toBe(true);
    // Committed, and B has not heard of it yet (its caches still say answers are on): only the barrier brings it.
    while (wire.held() === 0) await b.store.executor.get('SELECT 1');
    const outcome = await b.core.handle(inbound('are you there?', { mentionsBot: true }), { sink: recordingSink });
    expect(outcome.kind).toBe('refused');
  });

  it('a mention with nothing changed meanwhile passes one barrier and is recorded once', async () => {
    const b = await replica();
    await b.core.handle(inbound('hello', { mentionsBot: true }), { sink: recordingSink });
    let barriers = 0;
    onEachBarrier(b.store, () => (barriers += 1));
    const question = inbound('again?', { mentionsBot: true });
    expect((await b.core.handle(question, { sink: recordingSink })).kind).toBe('answered');
    expect(barriers).toBe(1);
    const conversation = await b.store.conversations.find(THREAD);
    const rows = (await b.store.messages.thread(conversation?.id ?? -1)).filter((row) => row.platformMessageId === question.messageId);
    expect(rows).toHaveLength(1);
  });
});
