/**
 * The IDENTIFY gate shared by a replica's shard clients: at most `max_concurrency` sessions start
 * per 5 s, one per bucket (shard id % max_concurrency), in the order they ask.
 */
import { describe, expect, it } from 'vitest';
import { IdentifyGate } from '../../src/adapters/discord/identify-gate.js';

describe('IdentifyGate', () => {
  it.each([
    ['one bucket: each shard waits 5 s more than the one before', 1, [0, 1, 2], [0, 5000, 10_000]],
    ['two buckets: shards 0 and 1 start together, 2 and 3 after 5 s', 2, [0, 1, 2, 3], [0, 0, 5000, 5000]],
    ['a bucket’s order is the order of asking', 2, [2, 0, 1], [0, 5000, 0]],
    ['a re-identify of the same shard waits its turn too', 16, [3, 3], [0, 5000]],
  ])('%s', (_name, maxConcurrency, shards, delays) => {
    const gate = new IdentifyGate(maxConcurrency, 5000, () => 1_000_000);
    expect(shards.map((shard) => gate.book(shard))).toEqual(delays);
  });

  it('a bucket idle for longer than the window starts at once', () => {
    let now = 0;
    const gate = new IdentifyGate(1, 5000, () => now);
    expect(gate.book(0)).toBe(0);
    now = 3000;
    expect(gate.book(1)).toBe(2000);
    now = 20_000;
    expect(gate.book(2)).toBe(0);
  });
});
