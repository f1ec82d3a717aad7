/**
 * The shard split rule: each replica decides alone from one survey, and together they reach an
 * even split, with no shard left free, whatever order they look in.
 */
import { describe, expect, it } from 'vitest';
import { planShards } from '../../src/core/shards/balance.js';
import type { LockHolders } from '../../src/store/index.js';

const view = (self: string, replicas: Record<string, number[]>): LockHolders => ({ self, replicas: new Map(Object.entries(replicas)) });

describe('planShards', () => {
  it.each([
    ['alone: takes every shard', view('a', { a: [] }), 3, { release: [], take: 3, free: [0, 1, 2] }],
    ['two replicas, two shards: one each', view('b', { a: [0], b: [] }), 2, { release: [], take: 1, free: [1] }],
    ['holding more than the ceiling: gives one back', view('a', { a: [0, 1, 2], b: [] }), 3, { release: [2], take: 0, free: [] }],
    ['three replicas, three shards: the one holding two gives one back', view('a', { a: [0, 1], b: [2], c: [] }), 3, { release: [1], take: 0, free: [] }],
    ['…and the one holding one keeps it', view('b', { a: [0, 1], b: [2], c: [] }), 3, { release: [], take: 0, free: [] }],
    ['…and the empty one waits for a free shard', view('c', { a: [0, 1], b: [2], c: [] }), 3, { release: [], take: 0, free: [] }],
    ['a freed shard goes to the replica below the floor', view('c', { a: [0], b: [2], c: [] }), 3, { release: [], take: 1, free: [1] }],
    ['at the floor, not the ceiling, while another is below the floor', view('a', { a: [0], b: [], c: [] }), 4, { release: [], take: 0, free: [1, 2, 3] }],
    ['a dead replica’s shard is taken up to the ceiling', view('a', { a: [0], b: [1] }), 3, { release: [], take: 1, free: [2] }],
    ['more replicas than shards: one each at most', view('c', { a: [0], b: [1], c: [] }), 2, { release: [], take: 0, free: [] }],
    ['shards beyond a smaller count are given back', view('a', { a: [0, 3] }), 2, { release: [3], take: 1, free: [1] }],
    ['ties over the floor: the smallest id gives back', view('a', { a: [0, 1], b: [2, 3], c: [] }), 4, { release: [1], take: 0, free: [] }],
    ['ties over the floor: the others keep theirs', view('b', { a: [0, 1], b: [2, 3], c: [] }), 4, { release: [], take: 0, free: [] }],
  ])('%s', (_name, survey, count, expected) => {
    expect(planShards(survey, count)).toEqual(expected);
  });
});

/** Replicas taking turns on one lock table, each applying its plan, until nothing moves. */
function simulate(count: number, replicas: string[], holdings: Record<string, number[]> = {}, order: (round: number) => string[] = () => replicas): Map<string, number[]> {
  const held = new Map(replicas.map((id) => [id, [...(holdings[id] ?? [])]]));
  for (let round = 0; round < 50; round += 1) {
    let moved = false;
    for (const self of order(round)) {
      const step = planShards({ self, replicas: new Map([...held].map(([id, shards]) => [id, [...shards].sort((a, b) => a - b)])) }, count);
      const mine = (held.get(self) ?? []).filter((shard) => !step.release.includes(shard));
      if (step.release.length > 0) moved = true;
      const owned = new Set([...held.values()].flat());
      for (const shard of step.free.filter((s) => !owned.has(s)).slice(0, step.take)) {
        mine.push(shard);
        moved = true;
      }
      held.set(self, mine);
    }
    if (!moved) return held;
  }
  throw new Error('the split never settled');
}

describe('replicas applying planShards together', () => {
  it.each([
    [3, ['a', 'b', 'c']],
    [2, ['a', 'b']],
    [4, ['a', 'b', 'c']],
    [10, ['a', 'b', 'c', 'd']],
    [1, ['a', 'b']],
  ])('%i shards over %j settle evenly with every shard held once', (count, replicas) => {
    const held = simulate(count, replicas, { [replicas[0] as string]: Array.from({ length: count }, (_, i) => i) }, (round) => (round % 2 === 0 ? replicas : [...replicas].reverse()));
    const all = [...held.values()].flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
    const sizes = [...held.values()].map((shards) => shards.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('a dead replica’s shards are taken over by the living', () => {
    const held = simulate(3, ['a', 'b'], { a: [0], b: [1] });
    expect([...held.values()].flat().sort()).toEqual([0, 1, 2]);
  });
});
