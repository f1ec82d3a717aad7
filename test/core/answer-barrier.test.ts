/**
 * The cache barrier a reply passes on PostgreSQL (store.syncCaches): a mention answered the
 * moment its intake ends shares intake's barrier (one per reply, not two), and an answer that
 * waited — a follow-up queued behind another answer of its thread, or a new thread whose history
 * was fetched from the platform — passes one of its own, after the wait, so it still sees what
 * another replica committed meanwhile.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReplySink } from '../../src/core/types.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound, THREAD } from '../helpers/messages.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { onEachBarrier } from '../helpers/barriers.js';
import { recordingSink } from '../helpers/recording-sink.js';

const admin = { id: 'u-admin', name: 'Ada', isAdmin: true };

/** Every barrier `h` passes, in order with the test's own marks. */
function recordBarriers(h: Harness, events: string[]): void {
  onEachBarrier(h.store, () => events.push('barrier'));
}

/** A sink whose answer holds at `start` until released: its thread's next answer queues behind it. */
function heldSink(): { sink: ReplySink; started: Promise<void>; release(): void } {
  let release = () => undefined as void;
  let markStarted = () => undefined as void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const held = new Promise<void>((resolve) => (release = resolve));
  return {
    sink: {
      async start() {
        markStarted();
        await held;
      },
      async finish() {
        return ['held-answer'];
      },
      async fail() {
        return ['held-failure'];
      },
    },
    started,
    release,
  };
}

describe.skipIf(TEST_DATABASE_URL === undefined)(`the cache barrier per reply${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  const harnesses: Harness[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
    await database.reset();
  });
  const replica = async () => {
    const h = await createCoreHarness({ databaseUrl: database.url });
    harnesses.push(h);
    return h;
  };

  it('a mention answered at once passes one barrier: intake’s', async () => {
    const h = await replica();
    expect((await h.core.handle(inbound('start', { mentionsBot: true }), { sink: recordingSink })).kind).toBe('answered');
    const events: string[] = [];
    recordBarriers(h, events);
    expect((await h.core.handle(inbound('next question', { mentionsBot: true }), { sink: recordingSink })).kind).toBe('answered');
    expect(events).toEqual(['barrier']);
  });

  it('a new thread whose history was fetched passes a second barrier after the fetch', async () => {
    const h = await replica();
    const events: string[] = [];
    recordBarriers(h, events);
    const fetchHistory = async () => {
      events.push('history fetched');
      return [inbound('said before the bot came', { author: { id: 'u-bob', name: 'Bob' } })];
    };
    expect((await h.core.handle(inbound('hello', { mentionsBot: true }), { sink: recordingSink, fetchHistory })).kind).toBe('answered');
    expect(events).toEqual(['barrier', 'history fetched', 'barrier']);
  });

  it('a follow-up queued behind an answer passes its own barrier after the wait and sees what another replica committed meanwhile', async () => {
    const a = await replica();
    const b = await replica();
    expect((await b.core.handle(inbound('start', { mentionsBot: true }), { sink: recordingSink })).kind).toBe('answered');
    const events: string[] = [];
    recordBarriers(b, events);
    const held = heldSink();
    const first = b.core.handle(inbound('first', { mentionsBot: true }), { sink: () => held.sink });
    await held.started;
    let accepted = () => undefined as void;
    const followUpAccepted = new Promise<void>((resolve) => (accepted = resolve));
    const followUp = b.core.handle(inbound('follow-up', { mentionsBot: true }), { sink: recordingSink, onAccepted: () => accepted() });
    await followUpAccepted;
    const reply = await a.core.runInstructionsCommand({ platform: THREAD.platform, workspaceId: THREAD.workspaceId, channelId: THREAD.channelId, actor: admin, action: 'set', scope: 'workspace', text: 'Talk like a pirate.' });
    expect(reply.ok).toBe(true);
    events.push('released');
    held.release();
    expect((await first).kind).toBe('answered');
    expect((await followUp).kind).toBe('answered');
    // Intake's barriers for both mentions, then the follow-up's own once the first answer let it go.
    expect(events).toEqual(['barrier', 'barrier', 'released', 'barrier']);
    expect(JSON.stringify(b.anthropic.messageRequests().at(-1)?.body)).toContain('Talk like a pirate.');
  });
});
