/**
 * Runs tasks one after another per key (a thread), and at most `concurrency` tasks overall.
 * Two mentions in one thread therefore never race, and a burst across many threads cannot open
 * hundreds of model calls at once.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly concurrency = Number.POSITIVE_INFINITY) {}

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(
      () => this.withSlot(task),
      () => this.withSlot(task),
    );
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether a task run for `key` now starts at once: nothing of that key queued or running, and a slot free. */
  startsAtOnce(key: string): boolean {
    return !this.tails.has(key) && this.running < this.concurrency;
  }

  /** Keys with work queued or running. */
  get activeKeys(): number {
    return this.tails.size;
  }

  /** Resolves when everything queued so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }

  private async withSlot<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}
