/**
 * Sliding one-minute windows per key. In memory on purpose: a restart forgiving a burst is
 * harmless, and a table write per mention is not free.
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** Records a hit and returns 0, or returns the ms until a hit would be allowed (nothing recorded). */
  take(key: string): number {
    if (this.perMinute <= 0) return 0;
    const now = this.now();
    const recent = (this.hits.get(key) ?? []).filter((at) => at > now - 60_000);
    if (recent.length >= this.perMinute) {
      this.hits.set(key, recent);
      return (recent[0] as number) + 60_000 - now;
    }
    recent.push(now);
    this.hits.set(key, recent);
    return 0;
  }

  /** Gives back the newest hit (the answer did not happen after all). */
  refund(key: string): void {
    this.hits.get(key)?.pop();
  }
}
