import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../src/core/keyed-queue.js';

/** A task that runs until released, and says when it started. */
function heldTask(): { task: () => Promise<void>; started: Promise<void>; release(): void } {
  let release = () => undefined as void;
  let markStarted = () => undefined as void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const held = new Promise<void>((resolve) => (release = resolve));
  return {
    task: async () => {
      markStarted();
      await held;
    },
    started,
    release,
  };
}

describe('KeyedQueue.startsAtOnce', () => {
  it('is true for an idle key and false while a task of that key is queued or running', async () => {
    const queue = new KeyedQueue();
    expect(queue.startsAtOnce('t1')).toBe(true);
    const held = heldTask();
    const running = queue.run('t1', held.task);
    expect(queue.startsAtOnce('t1')).toBe(false);
    await held.started;
    expect(queue.startsAtOnce('t1')).toBe(false);
    // Another thread is not held up.
    expect(queue.startsAtOnce('t2')).toBe(true);
    held.release();
    await running;
    await queue.idle();
    expect(queue.startsAtOnce('t1')).toBe(true);
  });

  it('is false while every slot is taken, whatever the key', async () => {
    const queue = new KeyedQueue(1);
    const held = heldTask();
    const running = queue.run('t1', held.task);
    await held.started;
    expect(queue.startsAtOnce('t2')).toBe(false);
    held.release();
    await running;
    expect(queue.startsAtOnce('t2')).toBe(true);
  });
});
