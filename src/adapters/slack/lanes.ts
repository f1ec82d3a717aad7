/**
 * Per-thread lanes for inbound events. Translating an event can wait on the network (users.info
 * for a display name), so without a lane a later message whose author is cached could reach the
 * core before an earlier one and be recorded, or answered, out of order. A lane runs the
 * translations of a thread one after another and hands each result to the core in delivery
 * order; it does not wait for the core's answer, so a long reply never blocks the next event.
 * Ordering edits and deletes with the messages they change is the core's (core/intake).
 */
export class ThreadLanes {
  /** The tail of each thread's translation chain. */
  private readonly tails = new Map<string, Promise<void>>();
  /** Events handed over and not yet fully dealt with by the core, per thread. */
  private readonly inFlight = new Map<string, Set<Promise<unknown>>>();

  /**
   * Runs `translate` after the thread's earlier translations, then starts `deliver` with its
   * result. Resolves when `deliver` has finished; rejects with whichever step failed.
   */
  enqueue<T>(key: string, translate: () => Promise<T>, deliver: (value: T) => Promise<unknown>): Promise<void> {
    let delivered: Promise<unknown> = Promise.resolve();
    const turn = (this.tails.get(key) ?? Promise.resolve()).then(async () => {
      const value = await translate();
      delivered = deliver(value);
    });
    const tail = turn.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });

    const whole = turn.then(() => delivered).then(() => undefined);
    const pending = this.inFlight.get(key) ?? new Set<Promise<unknown>>();
    pending.add(whole);
    this.inFlight.set(key, pending);
    const forget = () => {
      pending.delete(whole);
      if (pending.size === 0 && this.inFlight.get(key) === pending) this.inFlight.delete(key);
    };
    whole.then(forget, forget);
    return whole;
  }

  /** Resolves once every event received so far has reached the core (not necessarily been answered). */
  async handedOver(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }

  /** Resolves once every event received so far is fully dealt with, answers included. */
  async idle(): Promise<void> {
    for (;;) {
      const all = [...this.inFlight.values()].flatMap((set) => [...set]);
      if (all.length === 0) return;
      await Promise.allSettled(all);
    }
  }
}
