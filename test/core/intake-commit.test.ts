/**
 * A mention's intake on PostgreSQL: its event's claim, its message, the rate limits' count and its
 * job together, then COMMIT, whose answer the reply does not wait for to build its request (a
 * round trip less each). The job must still be stored as before (and withdrawn when the message
 * is not answered after all), the model called only once it is, and the limits counted ahead must
 * count only a new message answered now: a second delivery or a message deleted before it came
 * leaves the count as it was, without a rollback (which would drop every cache).
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { recordingSink, recordingSink as sink } from '../helpers/recording-sink.js';
import { RequestBuilder } from '../../src/core/request/request-builder.js';

/**
 * Marks what `mark` picks out of every statement sent (`answered`: when its result comes back); the
 * events, in order. A promise `mark` returns stands in for the statement's result.
 */
function watchQueries(mark: (text: string, answered: Promise<unknown>, events: string[]) => Promise<unknown> | undefined | void): string[] {
  const events: string[] = [];
  const query = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    return mark(text, Promise.resolve(result), events) ?? result;
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

  it('sends the job with the message row, hands it to the answer before COMMIT is answered, and calls the model only once it is', async () => {
    h = await createCoreHarness({ databaseUrl: database.url });
    // The thread is known, so the mention takes the path without a history read.
    await h.core.handle(inbound('first', { mentionsBot: true }), { sink });
    let built!: () => void;
    const requestBuilt = new Promise<void>((resolve) => (built = resolve));
    const build = RequestBuilder.prototype.build;
    vi.spyOn(RequestBuilder.prototype, 'build').mockImplementation(function (this: RequestBuilder, ...args) {
      events.push('request built');
      built();
      return build.apply(this, args);
    });
    const complete = h.model.complete.bind(h.model);
    vi.spyOn(h.model, 'complete').mockImplementation((...args) => {
      events.push('model called');
      return complete(...args);
    });
    let held = false;
    const events = watchQueries((text, answered, events) => {
      if (text.startsWith('INSERT INTO messages')) {
        events.push('row sent');
        void answered.then(() => events.push('row answered'));
      }
      if (text.includes('INSERT INTO reply_jobs')) events.push('job sent');
      if (text === 'COMMIT' && !held) {
        held = true;
        events.push('COMMIT sent');
        // Its answer is held back until the request is built: the answer must not wait for it to build.
        return answered.then(async (result) => {
          await requestBuilt;
          await new Promise<void>((resolve) => setImmediate(resolve));
          events.push('COMMIT answered');
          return result;
        });
      }
      return undefined;
    });
    const question = inbound('second?', { mentionsBot: true });
    const handled = h.core.handle(question, { sink });
    try {
      await expect.poll(() => events.includes('request built'), { timeout: 3000 }).toBe(true);
    } finally {
      built();
    }
    expect((await handled).kind).toBe('answered');
    const at = (event: string) => events.indexOf(event);
    expect(at('job sent')).toBeGreaterThan(at('row sent'));
    expect(at('job sent')).toBeLessThan(at('row answered'));
    expect(at('COMMIT sent')).toBeLessThan(at('request built'));
    expect(at('request built')).toBeLessThan(at('COMMIT answered'));
    expect(at('COMMIT answered')).toBeLessThan(at('model called'));
    const conversation = await h.store.conversations.find(THREAD);
    const asked = (await h.store.messages.thread(conversation?.id ?? -1)).find((row) => row.platformMessageId === question.messageId);
    expect((await h.store.jobs.forMessage(asked?.id ?? -1))?.state).toBe('done');
  });

  it('a COMMIT that fails: the user is told, nothing reaches the model, nothing is stored, and the handling fails', async () => {
    h = await createCoreHarness({ databaseUrl: database.url });
    await h.core.handle(inbound('first', { mentionsBot: true }), { sink });
    // A deferred check that fails at COMMIT, as a lost connection or a full disk would make it fail.
    await h.store.executor.run(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.role = 'user' AND NEW.text LIKE '%poison%' THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$`);
    await h.store.executor.run('CREATE CONSTRAINT TRIGGER refuse_poison AFTER INSERT ON messages DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_poison()');
    const requests = h.anthropic.messageRequests().length;
    const told = recordingSink();
    let accepted = false;
    await expect(h.core.handle(inbound('poison?', { mentionsBot: true }), { sink: () => told, onAccepted: () => (accepted = true) })).rejects.toThrow(/refused at commit/);
    expect(told.failed).toEqual([expect.objectContaining({ code: 'platform_post_failed' })]);
    expect(h.anthropic.messageRequests()).toHaveLength(requests);
    expect(accepted).toBe(false);
    // Logged once, by whoever called `handle` (the adapter), not also as the answer's own failure.
    expect(h.logLines.filter((line) => line.includes('refused at commit'))).toEqual([]);
    const conversation = await h.store.conversations.find(THREAD);
    expect((await h.store.messages.thread(conversation?.id ?? -1)).map((row) => row.text)).not.toContainEqual(expect.stringContaining('poison'));
    expect(await h.store.jobs.open()).toEqual([]);
    // The thread goes on.
    expect((await h.core.handle(inbound('third?', { mentionsBot: true }), { sink })).kind).toBe('answered');
  });

  it('answers a mention that a history read stored before its create came: the job sent ahead is its first', async () => {
    h = await createCoreHarness({ databaseUrl: database.url });
    const thread = { ...THREAD, threadKey: 'posted-while-read' };
    const first = inbound('first', { mentionsBot: true, thread });
    // Posted while the bot read the thread's history for the first mention: in that history, its create still to come.
    const posted = inbound('and this one?', { mentionsBot: true, thread, createdAt: first.createdAt + 1 });
    await h.core.handle(first, { sink, fetchHistory: async () => [posted] });
    expect(await h.core.handle(posted, { sink })).toMatchObject({ kind: 'answered' });
    expect(await h.core.handle(posted, { sink })).toEqual({ kind: 'ignored', reason: 'duplicate' });
    const conversation = await h.store.conversations.find(thread);
    const row = (await h.store.messages.thread(conversation?.id ?? -1)).find((message) => message.platformMessageId === posted.messageId);
    expect((await h.store.jobs.forMessage(row?.id ?? -1))?.state).toBe('done');
  });

  it('withdraws the job sent ahead when the message is over the limits', async () => {
    h = await createCoreHarness({ databaseUrl: database.url, limits: { userPerMinute: 2, channelPerMinute: 100, dailyTokenBudget: 0 } });
    await h.core.handle(inbound('first', { mentionsBot: true }), { sink });
    expect((await h.core.handle(inbound('second?', { mentionsBot: true }), { sink })).kind).toBe('answered');
    const over = inbound('third?', { mentionsBot: true });
    expect((await h.core.handle(over, { sink })).kind).toBe('limited');
    const conversation = await h.store.conversations.find(THREAD);
    const row = (await h.store.messages.thread(conversation?.id ?? -1)).find((message) => message.platformMessageId === over.messageId);
    expect(row).toBeDefined();
    expect(await h.store.jobs.forMessage(row?.id ?? -1)).toBeUndefined();
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
