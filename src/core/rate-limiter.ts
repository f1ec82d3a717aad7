/**
 * Sliding one-minute windows per key, in memory: for one process (SQLite), where a restart
 * forgiving a burst is harmless and a table write per mention is not free. Replicas on
 * PostgreSQL count in the database instead (rate-limits.ts).
 */
export const WINDOW_MS = 60_000;
/** Every this many hits, keys whose window has emptied are forgotten, so idle users cost nothing. */
const SWEEP_EVERY = 1000;

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private untilSweep = SWEEP_EVERY;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** Records a hit and returns 0, or returns the ms until a hit would be allowed (nothing recorded). */
  take(key: string): number {
    if (this.perMinute <= 0) return 0;
    const now = this.now();
    this.untilSweep -= 1;
    if (this.untilSweep <= 0) this.sweep(now);
    const recent = (this.hits.get(key) ?? []).filter((at) => at > now - WINDOW_MS);
    if (recent.length >= this.perMinute) {
      this.hits.set(key, recent);
      return (recent[0] as number) + WINDOW_MS - now;
    }
    recent.push(now);
    this.hits.set(key, recent);
    return 0;
  }

  /** Gives back the newest hit (the answer did not happen after all). */
  refund(key: string): void {
    this.hits.get(key)?.pop();
  }

  /** Keys with hits remembered: bounded by who asked in the last minute or so, not by everyone ever. */
  get trackedKeys(): number {
    return this.hits.size;
  }

  private sweep(now: number): void {
    this.untilSweep = SWEEP_EVERY;
    for (const [key, times] of this.hits) {
      const newest = times[times.length - 1];
      if (newest === undefined || newest <= now - WINDOW_MS) this.hits.delete(key);
    }
  }
}
