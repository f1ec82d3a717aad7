/**
 * Two replicas (two Stores) on one PostgreSQL database: what one commits, the other's next read
 * after `syncCaches()` sees, without waiting (the barrier is the whole point), also after its
 * listening connection was cut. And rate limits counted across both.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

const THREAD = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1.0' } as const;
const ann = { id: 'U1', name: 'Ann' };

const message = (conversationId: number, platformMessageId: string, createdAt: number) =>
  ({ conversationId, platformMessageId, authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: `text of ${platformMessageId}`, createdAt }) as const;

const texts = async (store: Store, conversationId: number) => {
  await store.syncCaches();
  return (await store.messages.thread(conversationId)).map((row) => row.text);
};

describe.skipIf(TEST_DATABASE_URL === undefined)(`replica caches on PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let a: Store;
  let b: Store;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    await a?.close();
    await b?.close();
    await database.reset();
  });
  const open = () => Store.open({ databasePath: '', databaseUrl: database.url });
  const replicas = async () => {
    a = await open();
    b = await open();
  };

  it('listens with the replica ids main.ts gives (UUIDs, dashes and all)', async () => {
    a = await Store.open({ databasePath: '', databaseUrl: database.url }, undefined, randomUUID());
    b = await Store.open({ databasePath: '', databaseUrl: database.url }, undefined, randomUUID());
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    expect(await texts(b, conversation.id)).toEqual(['text of m1']);
    // Listening, not bypassing the caches because LISTEN failed.
    expect(a.replication?.listenerProcessId).toBeTypeOf('number');
    expect(b.replication?.listenerProcessId).toBeTypeOf('number');
  });

  it('messages inserted, edited and deleted through A are in B’s next thread read', async () => {
    await replicas();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    expect(await texts(b, conversation.id)).toEqual(['text of m1']);

    const m2 = (await a.messages.insert(message(conversation.id, 'm2', 2))) as number;
    expect(await texts(b, conversation.id)).toEqual(['text of m1', 'text of m2']);
    await a.messages.edit(m2, 'edited', 3);
    expect(await texts(b, conversation.id)).toEqual(['text of m1', 'edited']);
    await a.messages.softDelete(m2, 4);
    expect(await texts(b, conversation.id)).toEqual(['text of m1']);
    // B's own writes still go through its cache, and A hears them.
    await b.messages.insert(message(conversation.id, 'm3', 5));
    expect(await texts(a, conversation.id)).toEqual(['text of m1', 'text of m3']);
    expect(await texts(b, conversation.id)).toEqual(['text of m1', 'text of m3']);
  });

  it('a message A adds to a thread B has cached is fetched alone: B’s other rows stay the same objects', async () => {
    await replicas();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    for (let i = 1; i <= 5; i += 1) await a.messages.insert(message(conversation.id, `m${i}`, i * 10));
    await b.syncCaches();
    const before = await b.messages.thread(conversation.id);
    const image = { platformFileId: 'F1', name: 'cat.png', kind: 'image', mediaType: 'image/png', size: 10, width: 1, height: 1, url: 'https://files.example/cat.png', urlExpiresAt: null } as const;
    // One after the others, and one whose created_at puts it between m2 and m3 (a catch-up).
    await a.messages.insert({ ...message(conversation.id, 'm6', 60), attachments: [image] });
    await a.messages.insert(message(conversation.id, 'late', 25));
    await b.syncCaches();
    const after = await b.messages.thread(conversation.id);
    expect(after.map((row) => row.platformMessageId)).toEqual(['m1', 'm2', 'late', 'm3', 'm4', 'm5', 'm6']);
    expect(after.filter((row) => before.includes(row))).toHaveLength(5);
    expect(after.at(-1)?.attachments.map((attachment) => attachment.name)).toEqual(['cat.png']);
    // The thread as B caches it equals a fresh read.
    const fresh = await open();
    try {
      expect(after).toEqual(await fresh.messages.thread(conversation.id));
    } finally {
      await fresh.close();
    }
  });

  /** The queries B's listening connection sends from now on. */
  const listenerQueries = (store: Store): (() => number) => {
    const client = (store.replication as unknown as { listener: { client: pg.Client } }).listener.client;
    const query = vi.spyOn(client, 'query');
    return () => query.mock.calls.length;
  };

  it('a barrier a transaction carries ahead of its BEGIN is passed with nothing sent on the listening connection, and reads after it see what A committed', async () => {
    await replicas();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    await b.syncCaches();
    expect((await b.messages.thread(conversation.id)).map((row) => row.text)).toEqual(['text of m1']);
    const sent = listenerQueries(b);
    await a.messages.insert(message(conversation.id, 'm2', 2));

    const reads = b.readAhead();
    const before = reads.takeBarrier();
    expect(before).toBeDefined();
    expect(reads.takeBarrier()).toBeUndefined();
    await b.transaction((tx) => tx.events.claim('k1', 1), { before });
    // Past the barrier, B's read has A's insert (whether its notification came before the read
    // ahead began or with the barrier; intake-read-ahead.test.ts holds it back to tell).
    await reads.current({ thread: THREAD, conversationId: conversation.id, messagesOf: conversation.id });
    expect((await b.messages.thread(conversation.id)).map((row) => row.text)).toEqual(['text of m1', 'text of m2']);
    expect(sent()).toBe(0);
  });

  it('a barrier nothing carried, or whose statement failed, goes on the listening connection', async () => {
    await replicas();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await b.syncCaches();
    const sent = listenerQueries(b);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    const reads = b.readAhead();
    await reads.current({ thread: THREAD, messagesOf: conversation.id });
    expect(reads.takeBarrier()).toBeUndefined();
    expect(sent()).toBe(1);
    expect((await b.messages.thread(conversation.id)).map((row) => row.text)).toEqual(['text of m1']);

    await a.messages.insert(message(conversation.id, 'm2', 2));
    const pending = b.replication?.barrier();
    await pending?.sentAs(Promise.reject(new Error('the connection it went on broke')));
    expect(sent()).toBe(2);
    expect((await b.messages.thread(conversation.id)).map((row) => row.text)).toEqual(['text of m1', 'text of m2']);
  });

  it('a thread A starts is known to B, and a conversation A forgets is empty on B', async () => {
    await replicas();
    expect(await b.conversations.find(THREAD)).toBeUndefined();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await a.conversations.setSystemPrompt(conversation.id, 'prompt', 7);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    await b.syncCaches();
    expect(await b.conversations.find(THREAD)).toMatchObject({ id: conversation.id, systemPrompt: 'prompt', instructionsRev: 7 });
    expect(await texts(b, conversation.id)).toEqual(['text of m1']);

    await a.forgetConversation(conversation.id);
    expect(await texts(b, conversation.id)).toEqual([]);
    expect(await b.conversations.get(conversation.id)).toMatchObject({ systemPrompt: null, instructionsRev: 0, backfilled: true });
  });

  it('instructions and settings changed through A are B’s next values', async () => {
    await replicas();
    expect(await b.instructions.current('slack', 'T1', '')).toBeUndefined();
    expect((await b.settings.current('slack', 'T1', 'C1')).size).toBe(0);
    await a.instructions.record('slack', 'T1', '', 'Be brief', ann, 1);
    await a.settings.record('slack', 'T1', 'C1', 'model', 'claude-haiku-4-5', ann, 1);
    await b.syncCaches();
    expect((await b.instructions.current('slack', 'T1', ''))?.text).toBe('Be brief');
    expect((await b.settings.current('slack', 'T1', 'C1')).get('model')?.value).toBe('claude-haiku-4-5');

    await a.instructions.record('slack', 'T1', '', null, ann, 2);
    await a.settings.record('slack', 'T1', 'C1', 'model', null, ann, 2);
    await b.syncCaches();
    expect((await b.instructions.current('slack', 'T1', ''))?.text).toBeNull();
    expect((await b.settings.current('slack', 'T1', 'C1')).get('model')?.value).toBeNull();
  });

  it('prune through A empties what B had cached', async () => {
    await replicas();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    expect(await texts(b, conversation.id)).toEqual(['text of m1']);
    expect(await b.conversations.find(THREAD)).toBeDefined();
    await a.prune(100, 100);
    expect(await texts(b, conversation.id)).toEqual([]);
    expect(await b.conversations.find(THREAD)).toBeUndefined();
  });

  it('after B’s listening connection is killed, B never serves a stale row, and listens again', async () => {
    await replicas();
    const conversation = await a.conversations.findOrCreate(THREAD, 1);
    await a.messages.insert(message(conversation.id, 'm1', 1));
    await a.instructions.record('slack', 'T1', '', 'first', ann, 1);
    expect(await texts(b, conversation.id)).toEqual(['text of m1']);
    expect((await b.instructions.current('slack', 'T1', ''))?.text).toBe('first');

    const listener = b.replication?.listenerProcessId;
    expect(listener).toBeTypeOf('number');
    await a.executor.get('SELECT pg_terminate_backend(?)', [listener as number]);
    // Written while B may not have noticed the loss yet: no notification will ever reach B.
    await a.messages.insert(message(conversation.id, 'm2', 2));
    await a.instructions.record('slack', 'T1', '', 'second', ann, 2);
    expect(await texts(b, conversation.id)).toEqual(['text of m1', 'text of m2']);
    expect((await b.instructions.current('slack', 'T1', ''))?.text).toBe('second');

    // Listening again (sync retries it too), B is back to hearing A.
    expect(await b.replication?.listen()).toBe(true);
    expect(b.replication?.listenerProcessId).not.toBe(listener);
    await a.messages.insert(message(conversation.id, 'm3', 3));
    expect(await texts(b, conversation.id)).toEqual(['text of m1', 'text of m2', 'text of m3']);
  });

  it('a rate limit counts the requests of every replica, and a refused key takes nothing', async () => {
    await replicas();
    const keys = [
      { key: 'user:U1', perWindow: 2 },
      { key: 'channel:C1', perWindow: 3 },
    ];
    const take = (store: Store, at: number, which = keys) => store.transaction((tx) => tx.rateLimits.take(which, at, 60_000));
    expect(await take(a, 1000)).toBe(0);
    expect(await take(b, 2000)).toBe(0);
    // The user's third request in the minute, on either replica: refused until the first leaves the window.
    expect(await take(b, 3000)).toBe(58_000);
    expect(await take(a, 3000)).toBe(58_000);
    // Another user in the channel: the channel's third request is allowed, its fourth refused,
    // and that refusal takes nothing from the user (a refund, in the in-memory limiter's words).
    const other = [{ key: 'user:U2', perWindow: 2 }, keys[1] as (typeof keys)[number]];
    expect(await take(a, 4000, other)).toBe(0);
    expect(await take(b, 5000, other)).toBe(56_000);
    // Had the refused request counted for U2, U2 would be at its limit here.
    expect(await take(a, 61_001, other)).toBe(0);
    expect(await take(b, 61_002, other)).toBe(4000 + 60_000 - 61_002);
  });

  it('concurrent takes on two replicas never exceed the limit', async () => {
    await replicas();
    const keys = [{ key: 'user:U9', perWindow: 5 }];
    const results = await Promise.all(Array.from({ length: 12 }, (_, index) => (index % 2 === 0 ? a : b).transaction((tx) => tx.rateLimits.take(keys, 1000 + index, 60_000))));
    expect(results.filter((wait) => wait === 0)).toHaveLength(5);
  });

  it('pruning clears rate-limit hits older than the event cutoff', async () => {
    await replicas();
    await a.transaction((tx) => tx.rateLimits.take([{ key: 'user:old', perWindow: 1 }], 1000, 60_000));
    await a.transaction((tx) => tx.rateLimits.take([{ key: 'user:new', perWindow: 1 }], 9000, 60_000));
    await b.prune(0, 5000);
    expect(await a.executor.all('SELECT key FROM rate_limit_hits')).toEqual([{ key: 'user:new' }]);
  });
});
