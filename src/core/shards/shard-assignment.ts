/**
 * Which Discord gateway shards this replica runs. Every few seconds it surveys the database's
 * locks (who is live, who holds what), gives shards back or takes free ones as `planShards`
 * says, and tells the adapter: `run(shard)` once its lock is held, `stop(shard)` before the lock
 * is released. When the lock connection drops, every shard stops at once: another replica may
 * hold it already. A replica killed outright loses its connection, so its shards are free at
 * the next survey of the others.
 */
import type { Logger } from 'pino';
import type { ResourceLocks } from '../../store/index.js';
import { planShards } from './balance.js';

export interface ShardRunner {
  /** Connects the shard; resolves once it is ready (or rejects: the shard is given back). */
  run(shard: number): Promise<void>;
  /** Disconnects the shard; it stops taking events. */
  stop(shard: number): Promise<void>;
}

/** What the Discord adapter needs to know about shard ownership (main.ts hands it over). */
export interface ShardAssignment {
  /**
   * Starts taking shards out of `count` for `runner`; resolves after the first round, with the
   * shards taken then running (or failed).
   */
  start(count: number, runner: ShardRunner): Promise<void>;
  /** Stops every shard and gives it back. */
  close(): Promise<void>;
  /**
   * Replicas sharing a database: the ms before this one may start a gateway session in IDENTIFY
   * bucket `bucket` (Discord allows one per bucket per `windowMs` for the whole bot), 0 once it
   * has just taken that turn. Absent: this process is the only one identifying.
   */
  identifyTurn?(bucket: number, windowMs: number): Promise<number>;
}

/** `Store.takeTurn`: a once-per-window turn shared by the replicas of one database. */
export type TakeTurn = (key: string, windowMs: number) => Promise<number>;

export const DEFAULT_SHARD_POLL_MS = 5_000;

export class LockedShardAssignment implements ShardAssignment {
  private count = 0;
  private runner: ShardRunner | undefined;
  private readonly running = new Set<number>();
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly locks: ResourceLocks,
    private readonly logger: Logger,
    private readonly pollMs = DEFAULT_SHARD_POLL_MS,
    private readonly takeTurn?: TakeTurn,
  ) {
    locks.onLost((error) => {
      this.logger.error({ err: error, shards: [...this.running] }, 'lost the shard lock connection: stopping every shard this replica held');
      void this.serially(() => this.stopAll());
    });
  }

  async start(count: number, runner: ShardRunner): Promise<void> {
    this.count = count;
    this.runner = runner;
    // Not through `serially`, which logs failures: a first round that fails (a bad token) fails the start.
    const first = this.round(true);
    this.queue = first.catch(() => undefined);
    await first;
    this.timer = setInterval(() => {
      if (!this.closed) void this.serially(() => this.round(false));
    }, this.pollMs);
    this.timer.unref();
  }

  identifyTurn(bucket: number, windowMs: number): Promise<number> {
    return this.takeTurn === undefined ? Promise.resolve(0) : this.takeTurn(`discord-identify:${bucket}`, windowMs);
  }

  /** Shards running here now. */
  held(): ReadonlySet<number> {
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.serially(async () => {
      await this.stopAll();
      await this.locks.close();
    });
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work).catch((error: unknown) => this.logger.error({ err: error }, 'shard assignment round failed'));
    this.queue = next;
    return next;
  }

  private async round(first: boolean): Promise<void> {
    if (this.closed || this.runner === undefined) return;
    const runner = this.runner;
    let view;
    try {
      view = await this.locks.survey();
    } catch (error) {
      this.logger.warn({ err: error }, 'cannot survey the shard locks; trying again shortly');
      return;
    }
    // The connection may have been replaced (lost, then rejoined): nothing held survives that.
    for (const shard of [...this.running]) if (!this.locks.held().has(shard)) await this.stopOne(shard, false);
    const step = planShards(view, this.count);
    for (const shard of step.release) await this.stopOne(shard, true);
    const started: Array<Promise<void>> = [];
    let wanted = step.take;
    for (const shard of step.free) {
      if (wanted === 0) break;
      let taken: boolean;
      try {
        taken = await this.locks.tryAcquire(shard);
      } catch (error) {
        // The lock connection failed (its listeners stop what it held): try again next round.
        this.logger.warn({ err: error, shard }, 'could not take a shard lock; trying again shortly');
        break;
      }
      if (!taken) continue;
      wanted -= 1;
      this.running.add(shard);
      this.logger.info({ shard, count: this.count }, 'took a Discord shard');
      started.push(
        runner.run(shard).catch(async (error: unknown) => {
          this.logger.error({ err: error, shard }, 'could not run a Discord shard; giving it back');
          await this.stopOne(shard, true);
          if (first) throw error;
        }),
      );
    }
    // The first round waits for its shards (start resolves connected); later ones run on.
    if (first) await Promise.all(started);
    else for (const start of started) start.catch(() => undefined);
  }

  private async stopOne(shard: number, release: boolean): Promise<void> {
    if (!this.running.delete(shard)) return;
    try {
      await this.runner?.stop(shard);
    } finally {
      if (release) await this.locks.release(shard).catch((error: unknown) => this.logger.warn({ err: error, shard }, 'could not release a shard lock'));
      this.logger.info({ shard }, 'gave up a Discord shard');
    }
  }

  private async stopAll(): Promise<void> {
    for (const shard of [...this.running]) await this.stopOne(shard, true);
  }
}

/** One process with no one to share with (SQLite, or tests): every shard is its own. */
export class AllShards implements ShardAssignment {
  private runner: ShardRunner | undefined;
  private shards: number[] = [];

  async start(count: number, runner: ShardRunner): Promise<void> {
    this.runner = runner;
    this.shards = Array.from({ length: count }, (_, shard) => shard);
    await Promise.all(this.shards.map((shard) => runner.run(shard)));
  }

  async close(): Promise<void> {
    for (const shard of this.shards.splice(0)) await this.runner?.stop(shard);
  }
}
