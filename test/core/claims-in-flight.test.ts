import { describe, expect, it } from 'vitest';
import { ClaimsInFlight } from '../../src/core/chat/claims-in-flight.js';

/** A promise resolved by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('ClaimsInFlight', () => {
  it('settles at once with no claim in flight', async () => {
    await new ClaimsInFlight().settled();
  });

  it('waits for a claim until it says its jobs are queued, not until its answers are done', async () => {
    const claims = new ClaimsInFlight();
    const reads = gate();
    const answers = gate();
    let queuedCalled = false;
    const claim = claims.run(async (queued) => {
      await reads.promise;
      queuedCalled = true;
      queued();
      await answers.promise;
    });
    let settled = false;
    const waiting = claims.settled().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    reads.open();
    await waiting;
    expect(queuedCalled).toBe(true);
    answers.open();
    await claim;
  });

  it('counts a failed claim as queued, and a later claim does not hold up an earlier waiter', async () => {
    const claims = new ClaimsInFlight();
    const failing = claims.run(async () => {
      throw new Error('database gone');
    });
    await expect(failing).rejects.toThrow('database gone');
    await claims.settled();
    const waiting = claims.settled();
    const later = gate();
    const laterClaim = claims.run(async (queued) => {
      await later.promise;
      queued();
    });
    await waiting;
    later.open();
    await laterClaim;
  });

  it('starts a claim only once the claim before it has queued its jobs, so they queue in the order they were made', async () => {
    const claims = new ClaimsInFlight();
    const firstReads = gate();
    const order: string[] = [];
    const first = claims.run(async (queued) => {
      order.push('first claims');
      await firstReads.promise;
      order.push('first queues');
      queued();
    });
    const second = claims.run(async (queued) => {
      order.push('second claims');
      queued();
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['first claims']);
    firstReads.open();
    await Promise.all([first, second]);
    expect(order).toEqual(['first claims', 'first queues', 'second claims']);
  });

  it('starts the next claim after one that failed', async () => {
    const claims = new ClaimsInFlight();
    await expect(claims.run(async () => Promise.reject(new Error('database gone')))).rejects.toThrow('database gone');
    expect(await claims.run(async (queued) => (queued(), 'ran'))).toBe('ran');
  });
});
