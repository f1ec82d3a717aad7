/**
 * A replica's renewals (`JobLeases.renew`, driven by hand with an injected clock): every job
 * held in its name is extended, and one it holds but is not answering (its answer was never
 * queued) is let go at the second renewal, never at the first. Where leases are shared, a job
 * is held (`holds`: this replica may still post for it) while its lease as last written runs
 * at least another third of a lease.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { JobLeases } from '../../src/core/chat/job-leases.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL } from '../helpers/postgres.js';

describe('JobLeases.renew', () => {
  let dir: string | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('extends what the replica answers and lets go of a job it holds but does not answer, at the second renewal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-leases-'));
    store = await Store.open({ databasePath: join(dir, 'db.sqlite') });
    let now = 1000;
    const ownJobs = new Set<number>();
    const leases = new JobLeases({ store, logger: pino({ level: 'silent' }), now: () => now, replicaId: 'R', leaseMs: 300, ownJobs });
    const conversation = await store.conversations.findOrCreate({ platform: 'slack', workspaceId: 'T', channelId: 'C', threadKey: 'C:1' }, 1);
    const job = async (id: string) => {
      const messageId = (await store?.messages.insert({ conversationId: conversation.id, platformMessageId: id, authorId: 'U', authorName: 'U', authorKind: 'user', role: 'user', text: id, createdAt: 1 })) as number;
      return (await store?.jobs.create(messageId, conversation.id, now, leases.lease())) as number;
    };
    const answered = await job('answered');
    const forgotten = await job('forgotten');
    ownJobs.add(answered);

    now = 1100;
    await leases.renew();
    expect(await store.jobs.leaseOf(answered)).toEqual({ owner: 'R', expiresAt: 1400 });
    // Once is no proof: intake's jobs join ownJobs a moment after they are stored.
    expect(await store.jobs.leaseOf(forgotten)).toEqual({ owner: 'R', expiresAt: 1400 });
    now = 1200;
    await leases.renew();
    expect(await store.jobs.leaseOf(answered)).toEqual({ owner: 'R', expiresAt: 1500 });
    expect(await store.jobs.leaseOf(forgotten)).toEqual({ owner: 'R', expiresAt: 0 });
  });
});

describe.skipIf(TEST_DATABASE_URL === undefined)(`JobLeases.holds on PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  it('holds a job taken until a third of a lease before its end, again once renewed, and not one another replica took over', async () => {
    const database = await createTestDatabase();
    const store = await Store.open({ databasePath: '', databaseUrl: database.url });
    try {
      let now = 1000;
      const ownJobs = new Set<number>();
      const leases = new JobLeases({ store, logger: pino({ level: 'silent' }), now: () => now, replicaId: 'R', leaseMs: 300, ownJobs });
      const conversation = await store.conversations.findOrCreate({ platform: 'slack', workspaceId: 'T', channelId: 'C', threadKey: 'C:1' }, 1);
      const take = async (id: string) => {
        const messageId = (await store.messages.insert({ conversationId: conversation.id, platformMessageId: id, authorId: 'U', authorName: 'U', authorKind: 'user', role: 'user', text: id, createdAt: 1 })) as number;
        const [job] = await leases.taking(async (lease) => [{ id: (await store.jobs.create(messageId, conversation.id, now, lease)) as number }]);
        ownJobs.add(job?.id as number);
        return job?.id as number;
      };
      const kept = await take('kept');
      const lost = await take('lost');
      // Taken at 1000 with a 300 ms lease: held while at least 100 ms of it are left.
      const held = () => [leases.holds(kept), leases.holds(lost)];
      now = 1199;
      expect(held()).toEqual([true, true]);
      now = 1200;
      expect(held()).toEqual([false, false]);
      // Another replica took `lost` over meanwhile: a renewal extends only what is still in this one's name.
      await store.executor.run("UPDATE reply_jobs SET lease_owner = 'other', lease_expires_at = 5000 WHERE id = ?", [lost]);
      await leases.renew();
      expect(held()).toEqual([true, false]);
      now = 1399;
      expect(held()).toEqual([true, false]);
      now = 1400;
      expect(held()).toEqual([false, false]);
      // No answer here works on `lost` any more and its lease is over: the next renewal forgets it.
      ownJobs.delete(lost);
      await leases.renew();
      expect(leases.holds(lost)).toBe(true);
      leases.done(kept);
      // A job it no longer tracks is not fenced (a job not taken through `taking`, as on SQLite).
      expect(leases.holds(kept)).toBe(true);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
