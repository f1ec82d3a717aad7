import { describe, expect, it } from 'vitest';
import { writeTogether } from '../../../src/core/chat/write-together.js';

/** A write that settles only when the test says so. */
function pending(): { promise: Promise<void>; resolve(): void; reject(error: Error): void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('writeTogether', () => {
  it('resolves once every write has, skipping the absent ones', async () => {
    const a = pending();
    const b = pending();
    let settled = false;
    const all = writeTogether([a.promise, undefined, b.promise]).then(() => (settled = true));
    a.resolve();
    await a.promise;
    await Promise.resolve();
    expect(settled).toBe(false);
    b.resolve();
    await all;
    expect(settled).toBe(true);
  });

  it('rejects with the first failure, but only after the other writes have settled', async () => {
    const first = pending();
    const slow = pending();
    const second = pending();
    let outcome: unknown;
    const all = writeTogether([first.promise, slow.promise, second.promise]).catch((error: unknown) => (outcome = error));
    first.reject(new Error('first failed'));
    second.reject(new Error('second failed'));
    await first.promise.catch(() => undefined);
    await second.promise.catch(() => undefined);
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
    // The transaction must not end while a write is still running.
    expect(outcome).toBeUndefined();
    slow.resolve();
    await all;
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toBe('first failed');
  });
});
