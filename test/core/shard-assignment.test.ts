/**
 * The shard assignment loop over an in-memory lock table shared by simulated replicas: it runs
 * what it takes, hands shards on as others join, stops everything at once when its lock
 * connection drops (and takes shards again after), gives back a shard it cannot run, and fails
 * its start when the first shards cannot run (a bad token).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LockedShardAssignment, type ShardRunner } from '../../src/core/shards/shard-assignment.js';
import type { LockHolders, ResourceLocks } from '../../src/store/index.js';
import { EventLog } from '../fakes/discord/event-log.js';
import { captureLogger } from '../helpers/harness.js';

/** Advisory locks in memory: one owner per resource, a set of live replicas. */
class LockTable {
  readonly owners = new Map<number, string>();
  readonly live = new Set<string>();
  /** Replicas that are gone for good (a process killed): they never reconnect. */
  readonly dead = new Set<string>();
  private readonly lostListeners = new Map<string, Array<(error: unknown) => void>>();

  locksFor(self: string): ResourceLocks {
    const table = this;
    const mine = () => new Set([...table.owners].filter(([, owner]) => owner === self).map(([id]) => id));
    return {
      async survey(): Promise<LockHolders> {
        if (table.dead.has(self)) throw new Error('this replica is dead');
        table.live.add(self);
        const replicas = new Map([...table.live].map((id) => [id, [...table.owners].filter(([, owner]) => owner === id).map(([shard]) => shard).sort()]));
        return { self, replicas };
      },
      async tryAcquire(id) {
        if (!table.live.has(self)) throw new Error('no lock connection');
        if (!table.owners.has(id)) table.owners.set(id, self);
        return table.owners.get(id) === self;
      },
      async release(id) {
        if (table.owners.get(id) === self) table.owners.delete(id);
      },
      held: mine,
      onLost(listener) {
        table.lostListeners.set(self, [...(table.lostListeners.get(self) ?? []), listener]);
      },
      async close() {
        table.drop(self, false);
      },
    };
  }

  kill(self: string): void {
    this.dead.add(self);
    this.drop(self);
  }

  /** The replica's connection is gone: its locks with it. */
  drop(self: string, notify = true): void {
    this.live.delete(self);
    for (const [id, owner] of [...this.owners]) if (owner === self) this.owners.delete(id);
    if (notify) for (const listener of this.lostListeners.get(self) ?? []) listener(new Error('connection terminated'));
  }
}

type RunnerEvent = { readonly kind: 'run' | 'stop'; readonly shard: number };

function recordingRunner(failing: ReadonlySet<number> = new Set()): ShardRunner & { log: EventLog<RunnerEvent>; running: Set<number> } {
  const log = new EventLog<RunnerEvent>((e) => `${e.kind} ${e.shard}`);
  const running = new Set<number>();
  return {
    log,
    running,
    async run(shard) {
      log.push({ kind: 'run', shard });
      if (failing.has(shard)) throw new Error(`shard ${shard} cannot log in`);
      running.add(shard);
    },
    async stop(shard) {
      log.push({ kind: 'stop', shard });
      running.delete(shard);
    },
  };
}

describe('LockedShardAssignment', () => {
  const open: LockedShardAssignment[] = [];
  afterEach(async () => {
    for (const assignment of open.splice(0)) await assignment.close();
  });
  const { logger } = captureLogger();
  const assignment = (table: LockTable, self: string) => {
    const created = new LockedShardAssignment(table.locksFor(self), logger, 10);
    open.push(created);
    return created;
  };

  it('takes every shard alone, hands one on when a second replica joins, and stops all at once when its connection drops', async () => {
    const table = new LockTable();
    const a = recordingRunner();
    await assignment(table, 'a').start(2, a);
    expect([...a.running].sort()).toEqual([0, 1]);

    const b = recordingRunner();
    await assignment(table, 'b').start(2, b);
    await b.log.waitFor((e) => e.kind === 'run', 'b taking a shard');
    expect(a.log.entries).toContainEqual({ kind: 'stop', shard: 1 });
    expect([...a.running]).toEqual([0]);
    expect([...b.running]).toEqual([1]);

    const since = a.log.length;
    table.drop('a');
    // a stops its shard at once; then a (reconnected) or b runs it again, never both.
    await a.log.waitFor((e) => e.kind === 'stop' && e.shard === 0, 'a stopping shard 0', { since });
    await expect.poll(() => a.running.has(0) || b.running.has(0)).toBe(true);
    expect(a.running.has(0) && b.running.has(0)).toBe(false);
    expect([...a.running, ...b.running].sort()).toEqual([0, 1]);
  });

  it('gives back a shard it cannot run (the lock is free for another replica)', async () => {
    const table = new LockTable();
    const b = recordingRunner();
    await assignment(table, 'b').start(1, b);
    await assignment(table, 'b2').start(1, recordingRunner());
    const a = recordingRunner(new Set([0]));
    // b holds the only shard; a's first round takes nothing, so its start succeeds.
    await assignment(table, 'a').start(1, a);
    table.kill('b');
    // Both die: a takes the freed shard, cannot run it, and gives it back.
    table.kill('b2');
    await a.log.waitFor((e) => e.kind === 'run' && e.shard === 0, 'a trying the freed shard');
    await a.log.waitFor((e) => e.kind === 'stop' && e.shard === 0, 'a giving back the shard it cannot run');
    expect(a.running.has(0)).toBe(false);
  });

  it('fails its start when the first shards cannot run', async () => {
    const table = new LockTable();
    const a = recordingRunner(new Set([0, 1]));
    await expect(assignment(table, 'a').start(2, a)).rejects.toThrow(/cannot log in/);
    expect(table.owners.size).toBe(0);
  });

  it('close stops and releases every shard', async () => {
    const table = new LockTable();
    const a = recordingRunner();
    const running = assignment(table, 'a');
    await running.start(3, a);
    await running.close();
    expect(a.running.size).toBe(0);
    expect(table.owners.size).toBe(0);
  });
});
