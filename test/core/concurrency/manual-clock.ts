import type { Clock } from '../../../src/core/concurrency/clock.js';

/** A clock the test moves by hand: timers fire only in `advance`. */
export class ManualClock implements Clock {
  private current = 0;
  private timers: Array<{ at: number; run: () => void; cancelled: boolean }> = [];

  now(): number {
    return this.current;
  }

  after(ms: number, run: () => void): () => void {
    const timer = { at: this.current + Math.max(0, ms), run, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const until = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.run();
    }
    this.current = until;
  }
}

/** Lets resolved promises' callbacks run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
