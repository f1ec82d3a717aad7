import { afterEach, describe, expect, it, vi } from 'vitest';
import { Pacer } from '../../src/core/pacer.js';

describe('Pacer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts the first call at once and each later one the spacing after the previous one came back', async () => {
    vi.useFakeTimers({ now: 0 });
    const pacer = new Pacer(1000);
    const starts: number[] = [];
    // Each call takes 300 ms, like an edit over a slow network.
    const call = () => {
      starts.push(Date.now());
      return new Promise<void>((resolve) => setTimeout(resolve, 300));
    };
    expect(pacer.readyAt()).toBe(0);
    const all = Promise.all([pacer.run(call), pacer.run(call)]).then(() => pacer.run(call));
    await vi.runAllTimersAsync();
    await all;
    expect(starts[0]).toBe(0);
    // The two queued together both start at once (a caller serializes its own calls); the third waits.
    expect(starts[2]! - 300).toBeGreaterThanOrEqual(1000);
    expect(pacer.readyAt()).toBe(Date.now() + 1000);
  });

  it('counts a failed call too', async () => {
    vi.useFakeTimers({ now: 0 });
    const pacer = new Pacer(500);
    await expect(pacer.run(() => Promise.reject(new Error('429')))).rejects.toThrow('429');
    expect(pacer.readyAt()).toBe(500);
  });
});
