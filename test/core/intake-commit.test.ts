/**
 * A mention's intake on PostgreSQL: its event's claim, its message and the rate limits' count
 * together, then its job with COMMIT (commitWith), a round trip less each. The job must still be
 * stored as before, and the limits counted ahead must count only a new message answered now: a
 * second delivery or a message deleted before it came leaves the count as it was, without a
 * rollback (which would drop every cache).
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { recordingSink as sink } from '../helpers/recording-sink.js';

/** Marks what `mark` picks out of every statement sent (`answered`: when its result comes back); the events, in order. */
function watchQueries(mark: (text: string, answered: Promise<unknown>, events: string[]) => void): string[] {
  const events: string[] = [];
  const query = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    mark(text, Promise.resolve(result), events);
    return result;
  } as typeof query);
  return events;
}

describe.skipIf(TEST_DATABASE_URL === undefined)(`a mention's intake on PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let h: Harness | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await h?.close();
    h = undefined;
    await database.reset();
  });

  it('sends COMMIT before its job insert is answered, and stores the job owned and then done', async () => {
    h = await createCoreHarness({ databaseUrl: database.url });
    // The thread is known, so the mention takes the path without a history read.
    await h.core.handle(inbound('first', { mentionsBot: true }), { sink });
    const events = watchQueries((text, answered, events) => {
      if (text === 'COMMIT') events.push('COMMIT sent');
      if (text.includes('INSERT INTO reply_jobs')) {
        events.push('job insert sent');
        void answered.then(() => events.push('job insert answered'));
      }
    });
    const question = inbound('second?', { mentionsBot: true });
    expect((await h.core.handle(question, { sink })).kind).toBe('answered');
    expect(events.slice(0, 3)).toEqual(['job insert sent', 'COMMIT sent', 'job insert answered']);
    const conversation = await h.store.conversations.find(THREAD);
    const asked = (await h.store.messages.thread(conversation?.id ?? -1)).find((row) => row.platformMessageId === question.messageId);
    expect((await h.store.jobs.forMessage(asked?.id ?? -1))?.state).toBe('done');
  });

  const hits = async (h: Harness) => (await h.store.executor.get<{ n: number }>('SELECT count(*) AS n FROM rate_limit_hits'))?.n;

  it('counts the rate limits with the message row, and only for a new message answered now', async () => {
    h = await createCoreHarness({ databaseUrl: database.url, limits: { userPerMinute: 100, channelPerMinute: 100, dailyTokenBudget: 0 } });
    await h.core.handle(inbound('first', { mentionsBot: true }), { sink });
    expect(await hits(h)).toBe(2); // the user's and the channel's
    const events = watchQueries((text, answered, events) => {
      if (text.includes('threadline_take_rate')) events.push('count sent');
      if (text.includes('INSERT INTO messages')) void answered.then(() => events.push('row answered'));
    });
    const question = inbound('second?', { mentionsBot: true });
    expect((await h.core.handle(question, { sink })).kind).toBe('answered');
    expect(events.slice(0, 2)).toEqual(['count sent', 'row answered']);
    expect(await hits(h)).toBe(4);
    // The same message delivered again: nothing counted.
    expect(await h.core.handle(question, { sink })).toEqual({ kind: 'ignored', reason: 'duplicate' });
    expect(await hits(h)).toBe(4);
    // Deleted before it came: recorded as deleted, not answered, nothing counted.
    const deleted = inbound('never mind', { mentionsBot: true });
    await h.core.recordDelete(THREAD, deleted.messageId);
    expect(await h.core.handle(deleted, { sink })).toEqual({ kind: 'ignored', reason: 'deleted' });
    expect(await hits(h)).toBe(4);
  });

  it('claims an event with its message row; the same event again, or the same message by another event, is a duplicate that counts nothing', async () => {
    h = await createCoreHarness({ databaseUrl: database.url, limits: { userPerMinute: 100, channelPerMinute: 100, dailyTokenBudget: 0 } });
    await h.core.handle(inbound('first', { mentionsBot: true, dedupeKeys: ['event:Ev0'] }), { sink });
    const events = watchQueries((text, answered, events) => {
      if (text.includes('INSERT INTO messages')) events.push('row sent');
      if (text.includes('processed_events')) void answered.then(() => events.push('claim answered'));
      if (text === 'ROLLBACK') events.push('ROLLBACK');
    });
    const question = inbound('second?', { mentionsBot: true, dedupeKeys: ['event:Ev1'] });
    expect((await h.core.handle(question, { sink })).kind).toBe('answered');
    expect(events.slice(0, 2)).toEqual(['row sent', 'claim answered']);
    expect(await hits(h)).toBe(4);
    expect(await h.core.handle(question, { sink })).toEqual({ kind: 'ignored', reason: 'duplicate' });
    expect(await h.core.handle({ ...question, dedupeKeys: ['event:Ev2'] }, { sink })).toEqual({ kind: 'ignored', reason: 'duplicate' });
    // Neither rolled back (a rollback drops every cache): the count counts only a row the transaction inserted.
    expect(events).not.toContain('ROLLBACK');
    // An event already taken in, whatever message it carries now, is not taken in again.
    expect(await h.core.handle(inbound('other', { mentionsBot: true, dedupeKeys: ['event:Ev1'] }), { sink })).toEqual({ kind: 'ignored', reason: 'duplicate' });
    expect(await hits(h)).toBe(4);
    const conversation = await h.store.conversations.find(THREAD);
    expect((await h.store.jobs.open()).length + (await h.store.messages.thread(conversation?.id ?? -1)).filter((row) => row.role === 'assistant').length).toBe(2);
  });
});
