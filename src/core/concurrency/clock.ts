/**
 * Time as the schedulers see it. Injected so their unit tests step a manual clock instead of
 * waiting: nothing in them reads `Date.now` or sets a timer on its own.
 */
export interface Clock {
  now(): number;
  /** Calls `run` after `ms`; the returned function cancels it. */
  after(ms: number, run: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, run) {
    const timer = setTimeout(run, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};
