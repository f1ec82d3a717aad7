/**
 * Leased reply jobs on both backends: a job is created owned when its thread's turn is free, taken
 * (claimed) only in thread order and only once, kept by renewal, given back on release, and taken
 * over once its owner stops renewing. Several stores on one database stand in for replicas.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { forEachBackend } from '../helpers/store-backends.js';

const thread = (key: string) => ({ platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: key }) as const;
const A = 'replica-a';
const B = 'replica-b';
const LEASE = 1000;
const lease = (owner: string, now: number) => ({ owner, expiresAt: now + LEASE });

/** A stored mention in thread `key`, its job not created yet. */
async function mention(store: Store, key: string, id: string): Promise<{ conversationId: number; messageId: number }> {
  const conversation = await store.conversations.findOrCreate(thread(key), 1);
  const messageId = (await store.messages.insert({ conversationId: conversation.id, platformMessageId: id, authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text: id, createdAt: 1 })) as number;
  return { conversationId: conversation.id, messageId };
}

async function unownedJob(store: Store, key: string, id: string, at = 1): Promise<number> {
  const { conversationId, messageId } = await mention(store, key, id);
  return (await store.jobs.create(messageId, conversationId, at)) as number;
}

forEachBackend((backend) => {
  describe('leased reply jobs', () => {
    it('are created owned while the thread has no other replica\'s open job, unowned behind one, and once per message', async () => {
      const store = await backend.open();
      const first = await mention(store, 't1', 'm1');
      const owned = await store.jobs.createInTurn(first.messageId, first.conversationId, 10, lease(A, 10));
      expect(owned).toEqual({ id: expect.any(Number), owned: true });
      expect(await store.jobs.leaseOf((owned as { id: number }).id)).toEqual({ owner: A, expiresAt: 10 + LEASE });
      // The same replica's follow-up joins its turn; another replica's waits.
      const second = await mention(store, 't1', 'm2');
      expect((await store.jobs.createInTurn(second.messageId, second.conversationId, 11, lease(A, 11)))?.owned).toBe(true);
      const third = await mention(store, 't1', 'm3');
      const waiting = await store.jobs.createInTurn(third.messageId, third.conversationId, 12, lease(B, 12));
      expect(waiting?.owned).toBe(false);
      expect(await store.jobs.leaseOf((waiting as { id: number }).id)).toEqual({ owner: null, expiresAt: null });
      // A redelivery has no second job.
      expect(await store.jobs.createInTurn(third.messageId, third.conversationId, 13, lease(B, 13))).toBeUndefined();
      // Another thread is free.
      const other = await mention(store, 't2', 'm4');
      expect((await store.jobs.createInTurn(other.messageId, other.conversationId, 14, lease(B, 14)))?.owned).toBe(true);
    });

    it('are claimed in thread order: only the first job not yet the taker\'s, then the next once the earlier is its own', async () => {
      const store = await backend.open();
      const jobs = [await unownedJob(store, 't1', 'm1'), await unownedJob(store, 't1', 'm2'), await unownedJob(store, 't1', 'm3')];
      const elsewhere = await unownedJob(store, 't2', 'm4');
      expect((await store.jobs.claim(lease(A, 100), 'slack', 100)).map((job) => job.id)).toEqual([jobs[0], elsewhere]);
      // B may take nothing of t1 while A holds its first job alive.
      expect(await store.jobs.claim(lease(B, 100), 'slack', 100)).toEqual([]);
      // A may take the next, behind its own.
      expect((await store.jobs.claim(lease(A, 101), 'slack', 101, { conversationId: (await store.conversations.find(thread('t1')))?.id as number })).map((job) => job.id)).toEqual([jobs[1]]);
      await store.jobs.finish(jobs[0] as number, 'done', 102);
      await store.jobs.finish(jobs[1] as number, 'done', 102);
      // Another platform's jobs are not taken.
      expect(await store.jobs.claim(lease(B, 103), 'discord', 103)).toEqual([]);
      expect((await store.jobs.claim(lease(B, 103), 'slack', 103)).map((job) => job.id)).toEqual([jobs[2]]);
    });

    it('note, on PostgreSQL, when a finished job leaves another of its thread waiting for its turn', async () => {
      const store = await backend.open();
      const [first, second] = [await unownedJob(store, 't1', 'm1'), await unownedJob(store, 't1', 'm2')];
      const lone = await unownedJob(store, 't2', 'm3');
      const conversation = async (key: string) => (await store.conversations.find(thread(key)))?.id as number;
      await store.jobs.finish(first, 'done', 5);
      await store.jobs.finish(lone, 'failed', 5);
      expect(store.jobs.takeWaiting(await conversation('t1'))).toBe(backend.name === 'postgres');
      // Asked once: forgotten.
      expect(store.jobs.takeWaiting(await conversation('t1'))).toBe(false);
      expect(store.jobs.takeWaiting(await conversation('t2'))).toBe(false);
      await store.jobs.finish(second, 'done', 6);
      expect(store.jobs.takeWaiting(await conversation('t1'))).toBe(false);
    });

    it('are taken over once the owner stops renewing, counting an attempt; renewal keeps them', async () => {
      const store = await backend.open();
      const job = await unownedJob(store, 't1', 'm1');
      const [taken] = await store.jobs.claim(lease(A, 0), 'slack', 0);
      expect(taken?.attempts).toBe(0);
      expect(await store.jobs.claim(lease(B, LEASE - 1), 'slack', LEASE - 1)).toEqual([]);
      // A renews at 900: its lease now ends at 1900.
      expect(await store.jobs.renew(lease(A, 900))).toEqual([job]);
      expect(await store.jobs.claim(lease(B, LEASE + 1), 'slack', LEASE + 1)).toEqual([]);
      // A stops renewing: past 1900 B takes it, once.
      const [takenOver] = await store.jobs.claim(lease(B, 1901), 'slack', 1901);
      expect(takenOver).toMatchObject({ id: job, attempts: 1 });
      expect(await store.jobs.claim(lease(A, 1902), 'slack', 1902)).toEqual([]);
      expect(await store.jobs.leaseOf(job)).toEqual({ owner: B, expiresAt: 1901 + LEASE });
      // Finished jobs are never renewed nor taken.
      await store.jobs.finish(job, 'done', 1903);
      // A replica that lost the job (paused past its lease) cannot undo what the taker stored.
      await store.jobs.finish(job, 'failed', 1904);
      expect((await store.executor.get<{ state: string }>('SELECT state FROM reply_jobs WHERE id = ?', [job]))?.state).toBe('done');
      expect(await store.jobs.renew(lease(B, 1904))).toEqual([]);
      expect(await store.jobs.claim(lease(A, 9999), 'slack', 9999)).toEqual([]);
    });

    it('are given back on release and taken by another replica at once, as from a replica that died', async () => {
      const store = await backend.open();
      const job = await unownedJob(store, 't1', 'm1');
      const kept = await unownedJob(store, 't2', 'm2');
      await store.jobs.claim(lease(A, 0), 'slack', 0);
      await store.jobs.finish(kept, 'done', 1);
      expect(await store.jobs.release(A)).toBe(1);
      expect(await store.jobs.claim(lease(B, 1), 'slack', 1)).toEqual([expect.objectContaining({ id: job, attempts: 1 })]);
    });

    it('let go of one job its owner lost track of: any replica\'s next claim takes it, its owner\'s too', async () => {
      const store = await backend.open();
      const job = await unownedJob(store, 't1', 'm1');
      await store.jobs.claim(lease(A, 0), 'slack', 0);
      expect(await store.jobs.claim(lease(A, 1), 'slack', 1)).toEqual([]);
      await store.jobs.expire(job, B);
      expect(await store.jobs.claim(lease(A, 1), 'slack', 1)).toEqual([]);
      await store.jobs.expire(job, A);
      expect(await store.jobs.claim(lease(A, 2), 'slack', 2)).toEqual([expect.objectContaining({ id: job, attempts: 1 })]);
    });

    it('are all taken at start on SQLite, except the taker\'s own, each counting an attempt', async () => {
      const store = await backend.open();
      const [first, second] = [await unownedJob(store, 't1', 'm1', 5), await unownedJob(store, 't1', 'm2', 6)];
      const { conversationId, messageId } = await mention(store, 't2', 'm3');
      await store.jobs.create(messageId, conversationId, 7, lease(A, 7));
      const taken = await store.jobs.takeAll(lease(A, 8), 'slack', 8);
      expect(taken.map((job) => [job.id, job.attempts])).toEqual([
        [first, 1],
        [second, 1],
      ]);
    });

    it('each job is claimed exactly once, however many replicas claim at once', async () => {
      const stores = await Promise.all([backend.open(), backend.open(), backend.open()]);
      const [setup] = stores as [Store, ...Store[]];
      const all: number[] = [];
      for (let t = 0; t < 12; t += 1) for (let m = 0; m < 3; m += 1) all.push(await unownedJob(setup, `t${t}`, `m${t}-${m}`));
      const byReplica = new Map<string, number[]>();
      const owners = stores.map((_, i) => `replica-${i}`);
      // Every replica claims, finishes what it took and claims again, all at once, until nothing is left.
      await Promise.all(
        stores.map(async (store, i) => {
          const owner = owners[i] as string;
          for (let round = 0; round < 40; round += 1) {
            const taken = await store.jobs.claim(lease(owner, 50), 'slack', 50, { limit: 5 });
            byReplica.set(owner, [...(byReplica.get(owner) ?? []), ...taken.map((job) => job.id)]);
            for (const job of taken) await store.jobs.finish(job.id, 'done', 51);
          }
        }),
      );
      const claimed = [...byReplica.values()].flat();
      expect(claimed.sort((a, b) => a - b)).toEqual([...all].sort((a, b) => a - b));
      expect(await setup.jobs.open()).toEqual([]);
    });

    // The fallback taken when another replica's first job of the thread commits while this one's insert waits on it.
    it.skipIf(backend.name === 'sqlite')('a job whose thread\'s turn another replica took meanwhile is created unowned, in the same transaction', async () => {
      const [one, two] = await Promise.all([backend.open(), backend.open()]);
      const a = await mention(one as Store, 'held', 'held-a');
      const b = await mention(one as Store, 'held', 'held-b');
      let commitA!: () => void;
      const aHolds = new Promise<void>((resolve) => (commitA = resolve));
      let aInserted!: () => void;
      const aCreated = new Promise<void>((resolve) => (aInserted = resolve));
      const first = (one as Store).transaction(async (tx) => {
        const job = await tx.jobs.createInTurn(a.messageId, a.conversationId, 1, lease(A, 1));
        aInserted();
        await aHolds;
        return job;
      });
      await aCreated;
      // B saw no open job when it started, so it aims at the thread's turn and waits on A's row.
      const second = (two as Store).transaction((tx) => tx.commitWith((last) => last.jobs.createInTurn(b.messageId, b.conversationId, 1, lease(B, 1))));
      // Until B's insert waits on A's lock (each check a round trip to the server).
      const lockWaits = async () => (await (one as Store).executor.get<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"))?.n ?? 0;
      while ((await lockWaits()) === 0);
      commitA();
      expect(await first).toEqual({ id: expect.any(Number), owned: true });
      expect(await second).toEqual({ id: expect.any(Number), owned: false });
      expect(await (one as Store).jobs.leaseOf(((await second) as { id: number }).id)).toEqual({ owner: null, expiresAt: null });
    });

    // SQLite is one process by definition: it creates every job owned (jobs.create with a lease).
    it.skipIf(backend.name === 'sqlite')('two replicas starting one thread\'s turn at once: exactly one owns its job', async () => {
      const [one, two] = await Promise.all([backend.open(), backend.open()]);
      for (let attempt = 0; attempt < 10; attempt += 1) {
        const key = `race-${attempt}`;
        const [a, b] = [await mention(one as Store, key, `${key}-a`), await mention(one as Store, key, `${key}-b`)];
        const created = await Promise.all([
          (one as Store).transaction((tx) => tx.jobs.createInTurn(a.messageId, a.conversationId, 1, lease(A, 1))),
          (two as Store).transaction((tx) => tx.jobs.createInTurn(b.messageId, b.conversationId, 1, lease(B, 1))),
        ]);
        expect(created.filter((job) => job?.owned).length).toBe(1);
        expect(created.every((job) => job !== undefined)).toBe(true);
      }
    });
  });
});
