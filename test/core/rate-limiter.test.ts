import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/core/rate-limiter.js';

describe('RateLimiter', () => {
  it.each<[string, number, number[], number[]]>([
    // [name, per minute, hit times (ms), expected waits]
    ['allows up to the limit in a minute', 2, [0, 1000], [0, 0]],
    ['then says how long until the oldest hit leaves the window', 2, [0, 1000, 2000], [0, 0, 58_000]],
    ['a refused hit is not counted', 1, [0, 30_000, 60_001], [0, 30_000, 0]],
    ['off at 0', 0, [0, 0, 0], [0, 0, 0]],
  ])('%s', (_name, perMinute, times, waits) => {
    let now = 0;
    const limiter = new RateLimiter(perMinute, () => now);
    expect(
      times.map((at) => {
        now = at;
        return limiter.take('user');
      }),
    ).toEqual(waits);
  });

  it('forgets people who stopped asking, so memory follows the last minute, not everyone ever', () => {
    let now = 0;
    const limiter = new RateLimiter(5, () => now);
    for (let i = 0; i < 5000; i += 1) {
      now = i * 1000;
      limiter.take(`user-${i}`);
    }
    // One minute holds about 60 of them; a sweep runs every 1000 hits.
    expect(limiter.trackedKeys).toBeLessThanOrEqual(1000 + 60);
    expect(limiter.take('user-4999')).toBe(0);
  });
});
