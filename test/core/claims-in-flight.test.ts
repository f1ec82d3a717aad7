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
});
