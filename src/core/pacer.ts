/**
 * Keeps a reply's platform calls (post, edit, stream append) at least `spacingMs` apart, counted
 * from when the previous call came back: by then the platform has surely seen it, so network
 * delay can never squeeze two calls closer together on the platform's side. Callers run their
 * calls one after another; calls started together are not held back from each other.
 */
export class Pacer {
  private lastDoneAt: number | undefined;

  /** `spacingMs` may change over time (edits spaced further apart while the platform budget is short). */
  constructor(private readonly spacingMs: number | (() => number)) {}

  /** The earliest time the next call may start. */
  readyAt(): number {
    if (this.lastDoneAt === undefined) return 0;
    return this.lastDoneAt + (typeof this.spacingMs === 'number' ? this.spacingMs : this.spacingMs());
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    const wait = this.readyAt() - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      return await call();
    } finally {
      this.lastDoneAt = Date.now();
    }
  }
}
