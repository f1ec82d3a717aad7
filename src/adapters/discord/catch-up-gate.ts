/**
 * A fresh gateway session (READY: a start, a shard taken over, a session Discord would not
 * resume) reads back what its shard's threads missed (`catchUp`, history.ts) while live events
 * already arrive. The core takes a thread's messages in the order it is handed them, so a live
 * message of a thread still being read back waits until the catch-up has handed that thread's
 * missed messages over; until the catch-up knows which threads it reads (one query), every live
 * message waits. Messages held for one channel pass in their arrival order.
 */

/** What `catchUp` reports as it goes (see there). */
export interface CatchUpProgress {
  /** The threads (their channel ids) it is about to read back. */
  listed(threadIds: readonly string[]): void;
  /** This thread's missed messages are handed to the core (or it could not be read). */
  caughtUp(threadId: string): void;
  /** The catch-up ended, however: nothing waits for it any more. */
  finished(): void;
}

export class CatchUpGate {
  /** Catch-ups that have not listed their threads yet, and the promise of their listings. */
  private listings = 0;
  private listing: Promise<void> = Promise.resolve();
  /** Threads being read back → settles once every catch-up reading it has handed it over. */
  private readonly threads = new Map<string, Promise<void>>();
  /** Per channel, the last live message held: the next one is handed on after it. */
  private readonly held = new Map<string, Promise<void>>();

  /** A catch-up begins: what it reports through, so the live messages it must precede wait. */
  begin(): CatchUpProgress {
    this.listings += 1;
    let listed!: () => void;
    const listing = new Promise<void>((resolve) => (listed = resolve));
    this.listing = Promise.all([this.listing, listing]).then(() => undefined);
    let open = true;
    const endListing = () => {
      if (!open) return;
      open = false;
      this.listings -= 1;
      listed();
    };
    const pending = new Map<string, () => void>();
    return {
      listed: (threadIds) => {
        for (const id of threadIds) {
          if (pending.has(id)) continue;
          const done = new Promise<void>((resolve) => pending.set(id, resolve));
          const before = this.threads.get(id);
          const entry = before === undefined ? done : Promise.all([before, done]).then(() => undefined);
          this.threads.set(id, entry);
          void entry.then(() => {
            if (this.threads.get(id) === entry) this.threads.delete(id);
          });
        }
        endListing();
      },
      caughtUp: (threadId) => {
        pending.get(threadId)?.();
        pending.delete(threadId);
      },
      finished: () => {
        endListing();
        for (const resolve of pending.values()) resolve();
        pending.clear();
      },
    };
  }

  /** Hands a live message of `channelId` on (`handle`) now, or once what it must follow is handed over. */
  pass(channelId: string, handle: () => void): void {
    const before = this.held.get(channelId);
    if (before === undefined && this.listings === 0 && !this.threads.has(channelId)) {
      handle();
      return;
    }
    const tail = (before ?? Promise.resolve())
      .then(() => this.listing)
      .then(() => this.threads.get(channelId))
      .then(handle)
      // A handler that throws (it logs its own failures) holds nothing up.
      .catch(() => undefined);
    this.held.set(channelId, tail);
    void tail.then(() => {
      if (this.held.get(channelId) === tail) this.held.delete(channelId);
    });
  }
}
