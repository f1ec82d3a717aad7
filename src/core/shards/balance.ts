/**
 * How many shards this replica should hold, decided from one survey of who holds what. Every
 * replica runs the same rule on its own, and the rule converges to an even split without
 * talking: with `n` live replicas and `count` shards each holds floor(count/n) or ceil(count/n).
 * - Holding more than the ceiling: give one back (the others take it up).
 * - Holding more than the floor while another holds less than the floor: the biggest holder
 *   (ties: the smallest replica id) gives one back.
 * - Holding less than the floor: take free shards up to the floor, and up to the ceiling once
 *   nobody else is below the floor.
 * No state where a shard stays free is stable: some replica is always allowed to take it.
 */
import type { LockHolders } from '../../store/index.js';

export interface ShardStep {
  /** Shards to give up now (stop first, then release). */
  readonly release: readonly number[];
  /** How many more shards to take, and the free ones to try, in order. */
  readonly take: number;
  readonly free: readonly number[];
}

export function planShards(view: LockHolders, count: number): ShardStep {
  const replicas = new Map(view.replicas);
  if (!replicas.has(view.self)) replicas.set(view.self, []);
  const mine = replicas.get(view.self) ?? [];
  // Shards beyond the count (the count changed) are nobody's to keep.
  const stale = mine.filter((shard) => shard >= count);
  const kept = mine.filter((shard) => shard < count);
  const owned = new Set([...replicas.values()].flat());
  const free: number[] = [];
  for (let shard = 0; shard < count; shard += 1) if (!owned.has(shard)) free.push(shard);

  const n = replicas.size;
  const ceiling = Math.ceil(count / n);
  const floor = Math.floor(count / n);
  const others = [...replicas].filter(([id]) => id !== view.self).map(([id, held]) => ({ id, held: held.filter((shard) => shard < count).length }));
  const someoneBelowFloor = others.some((other) => other.held < floor);

  if (kept.length > ceiling) return { release: [...stale, ...kept.slice(ceiling)], take: 0, free };
  if (kept.length > floor && someoneBelowFloor) {
    const biggest = others.every((other) => other.held < kept.length || (other.held === kept.length && view.self < other.id));
    if (biggest) return { release: [...stale, kept[kept.length - 1] as number], take: 0, free };
  }
  let target = kept.length;
  if (kept.length < floor) target = someoneBelowFloor ? floor : ceiling;
  else if (kept.length < ceiling && !someoneBelowFloor) target = ceiling;
  return { release: stale, take: Math.min(target - kept.length, free.length), free };
}
