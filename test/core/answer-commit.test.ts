/**
 * The answer's one commit on PostgreSQL (its rows, its usage, its job): a one-part answer sends
 * COMMIT with its writes (commitWithStatements), a long answer posted in several parts waits on
 * its first row and commits after. Both must be stored whole, read back from the database.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReplySink } from '../../src/core/types.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';

/** A sink that posts the answer as `parts` platform messages. */
function postingIn(parts: number): () => ReplySink {
  let next = 0;
  return () => ({
    async start() {},
    async finish() {
      return Array.from({ length: parts }, () => `posted-${(next += 1)}-of-${parts}`);
    },
    async fail() {
      return ['failure'];
    },
  });
}

describe.skipIf(TEST_DATABASE_URL === undefined)(`the answer's commit on PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let h: Harness | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await database.reset();
  });

  // A thread quiet since long ago: the answer moves the conversation's activity on (one more statement, sent with the row).
  it.each([
    { parts: 1, askedAgoMs: 0 },
    { parts: 1, askedAgoMs: 3_600_000 },
    { parts: 3, askedAgoMs: 0 },
  ])('an answer posted in $parts part(s), in a thread quiet for $askedAgoMs ms, is stored whole: its rows, its usage, its job done, the thread’s activity', async ({ parts, askedAgoMs }) => {
    h = await createCoreHarness({ databaseUrl: database.url });
    if (askedAgoMs > 0) await h.store.conversations.findOrCreate(THREAD, Date.now() - askedAgoMs);
    const question = inbound('what is new?', { mentionsBot: true, createdAt: Date.now() - askedAgoMs });
    expect((await h.core.handle(question, { sink: postingIn(parts) })).kind).toBe('answered');
    // A second store on the database: nothing read from the first one's caches.
    await h.close();
    h = await createCoreHarness({ databaseUrl: database.url });
    const conversation = await h.store.conversations.find(THREAD);
    const rows = await h.store.messages.thread(conversation?.id ?? -1);
    const asked = rows.find((row) => row.platformMessageId === question.messageId);
    expect(rows.filter((row) => row.role === 'assistant').map((row) => row.platformMessageId)).toEqual(Array.from({ length: parts }, (_, i) => `posted-${i + 1}-of-${parts}`));
    expect((await h.store.jobs.forMessage(asked?.id ?? -1))?.state).toBe('done');
    expect(await h.store.usage.totalSince(THREAD.platform, THREAD.workspaceId, 0)).toBeGreaterThan(0);
    expect(conversation?.lastActivityAt).toBeGreaterThan(Date.now() - 60_000);
  });
});
