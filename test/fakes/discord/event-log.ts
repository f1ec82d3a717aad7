/**
 * An append-only log with waiters: tests wait for the entry they expect (already logged or still
 * to come) instead of sleeping, and a timeout names what never happened.
 */
export interface WaitOptions {
  /** Only entries at or after this index count (take it from `length` before acting). */
  readonly since?: number;
  readonly timeoutMs?: number;
}

interface Waiter<E> {
  readonly predicate: (entry: E) => boolean;
  readonly resolve: (entry: E) => void;
}

export class EventLog<E> {
  readonly entries: E[] = [];
  private readonly waiters = new Set<Waiter<E>>();

  constructor(private readonly describe: (entry: E) => string) {}

  get length(): number {
    return this.entries.length;
  }

  push(entry: E): void {
    this.entries.push(entry);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(entry)) {
        this.waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  waitFor(predicate: (entry: E) => boolean, label: string, options: WaitOptions = {}): Promise<E> {
    const since = options.since ?? 0;
    const found = this.entries.slice(since).find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const recent = this.entries.slice(-15).map(this.describe).join('\n  ');
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}; last entries:\n  ${recent}`));
      }, timeoutMs);
      const waiter: Waiter<E> = {
        predicate,
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
      };
      this.waiters.add(waiter);
    });
  }
}
