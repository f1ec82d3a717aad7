/**
 * The IDENTIFY gate shared by a replica's shard clients: at most `max_concurrency` sessions start
 * per 5 s, one per bucket (shard id % max_concurrency), in the order they ask; replicas sharing a
 * database also take turns through it (the shard suite runs that against PostgreSQL).
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

  describe('with turns shared among replicas', () => {
    const signal = new AbortController().signal;

    it('asks for the shard’s bucket and goes once the turn is its own, waiting as long as it is told', async () => {
      const asked: Array<[number, number]> = [];
      const answers = [3, 0];
      const gate = new IdentifyGate(2, 5000, Date.now, async (bucket, windowMs) => {
        asked.push([bucket, windowMs]);
        return answers.shift() ?? 0;
      });
      await gate.waitForIdentify(3, signal);
      expect(asked).toEqual([
        [1, 5000],
        [1, 5000],
      ]);
    });

    it('after a turn another replica held, the next shard of the bucket waits a window from then', async () => {
      let now = 1_000_000;
      const gate = new IdentifyGate(1, 5000, () => now, async () => {
        // Another replica identified meanwhile: the turn comes later than this replica booked it.
        now += 4000;
        return 0;
      });
      await gate.waitForIdentify(0, signal);
      expect(gate.book(1)).toBe(5000);
    });

    it('goes ahead on its own pacing when the database cannot be asked, and says so', async () => {
      const failures: unknown[] = [];
      const gate = new IdentifyGate(1, 5000, Date.now, () => Promise.reject(new Error('connection lost')), (error) => failures.push(error));
      await gate.waitForIdentify(0, signal);
      expect(failures).toEqual([new Error('connection lost')]);
    });
  });
});
