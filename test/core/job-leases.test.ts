/**
 * A replica's renewals (`JobLeases.renew`, driven by hand with an injected clock): every job
 * held in its name is extended, and one it holds but is not answering (its answer was never
 * queued) is let go at the second renewal, never at the first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { JobLeases } from '../../src/core/chat/job-leases.js';
import { Store } from '../../src/store/store.js';

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
