/**
 * Resource locks (Discord shard ownership) on both backends: a replica takes, holds and gives
 * back resources; on PostgreSQL two stores over one database exclude each other, closing frees,
 * and a holder whose connection dies loses everything at once (and hears it).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { ResourceLocks } from '../../src/store/locks.js';
import { forEachBackend } from '../helpers/store-backends.js';

const NAMESPACE = 'test-shards';

function closeAfter<T extends ResourceLocks>(locks: T[], lock: T): T {
  locks.push(lock);
  return lock;
}

forEachBackend((backend) => {
  describe('resource locks', () => {
    it('acquires, reports and releases what this replica holds', async () => {
      const store = await backend.open();
      const locks = store.resourceLocks(NAMESPACE);
      try {
        const first = await locks.survey();
        expect([...first.replicas.keys()]).toEqual([first.self]);
        expect(first.replicas.get(first.self)).toEqual([]);
        expect(await locks.tryAcquire(2)).toBe(true);
        expect(await locks.tryAcquire(0)).toBe(true);
        expect([...locks.held()].sort()).toEqual([0, 2]);
        expect((await locks.survey()).replicas.get(first.self)).toEqual([0, 2]);
        await locks.release(2);
        expect((await locks.survey()).replicas.get(first.self)).toEqual([0]);
      } finally {
        await locks.close();
      }
      expect([...locks.held()]).toEqual([]);
    });
  });

  if (backend.name === 'sqlite') {
    it('on SQLite (one process) every resource is this process’s', async () => {
      const store = await backend.open();
      const locks = store.resourceLocks(NAMESPACE);
      for (const id of [0, 1, 2]) expect(await locks.tryAcquire(id)).toBe(true);
      await locks.close();
    });
    return;
  }

  describe('between replicas sharing one PostgreSQL database', () => {
    it('one holder per resource; a release or a close frees it for the other', async () => {
      const opened: ResourceLocks[] = [];
      try {
        const a = closeAfter(opened, (await backend.open()).resourceLocks(NAMESPACE));
        const b = closeAfter(opened, (await backend.open()).resourceLocks(NAMESPACE));
        const selfA = (await a.survey()).self;
        const selfB = (await b.survey()).self;
        expect(selfA).not.toBe(selfB);
        expect(await a.tryAcquire(0)).toBe(true);
        expect(await b.tryAcquire(0)).toBe(false);
        expect(await b.tryAcquire(1)).toBe(true);
        expect(await a.tryAcquire(1)).toBe(false);
        const view = await a.survey();
        expect(new Map(view.replicas)).toEqual(new Map([[selfA, [0]], [selfB, [1]]]));
        // Another namespace is another set of resources.
        const other = closeAfter(opened, (await backend.open()).resourceLocks('other-namespace'));
        expect(await other.tryAcquire(0)).toBe(true);

        await a.release(0);
        expect(await b.tryAcquire(0)).toBe(true);
        await b.close();
        expect(await a.tryAcquire(1)).toBe(true);
        expect((await a.survey()).replicas).toEqual(new Map([[selfA, [1]]]));
      } finally {
        await Promise.all(opened.map((locks) => locks.close()));
      }
    });

    it('a holder whose connection dies loses its locks at once, hears it, and rejoins as a new replica', async () => {
      const opened: ResourceLocks[] = [];
      const admin = new pg.Client({ connectionString: (await backend.location()).databaseUrl });
      await admin.connect();
      try {
        const a = closeAfter(opened, (await backend.open()).resourceLocks(NAMESPACE));
        const b = closeAfter(opened, (await backend.open()).resourceLocks(NAMESPACE));
        const lost = new Promise<unknown>((resolve) => a.onLost(resolve));
        const selfA = (await a.survey()).self;
        expect(await a.tryAcquire(3)).toBe(true);
        expect(await b.tryAcquire(3)).toBe(false);

        await admin.query('SELECT pg_terminate_backend($1)', [Number(selfA)]);
        await lost;
        expect([...a.held()]).toEqual([]);
        expect(await b.tryAcquire(3)).toBe(true);
        const view = await b.survey();
        expect([...view.replicas.keys()]).toEqual([view.self]);

        const rejoined = await a.survey();
        expect(rejoined.self).not.toBe(selfA);
        expect(rejoined.replicas.get(view.self)).toEqual([3]);
        expect(await a.tryAcquire(3)).toBe(false);
      } finally {
        await admin.end();
        await Promise.all(opened.map((locks) => locks.close()));
      }
    });
  });
});
