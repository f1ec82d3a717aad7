/**
 * Discord's typing indicator for one answer: shown after a short grace and renewed (it lasts
 * ~10 s) until text is visible, each renewal a write the bot's WriteScheduler lets through when
 * budget allows. The grace is below what a reader notices, and it matters under a burst: typing
 * signs sent the moment many mentions arrive would hold shared budget (for a window after they
 * come back) that the first texts due a time-to-first-token later need. Asked after the grace,
 * a sign waits behind the first texts expected by then (WriteScheduler.expectFirst), and one
 * whose answer shows text first is never sent.
 */
import type { Logger } from 'pino';
import type { WriteScheduler } from '../../core/concurrency/write-scheduler.js';

export class TypingIndicator {
  private timer: NodeJS.Timeout | undefined;
  private grace: NodeJS.Timeout | undefined;
  /** Aborted once text shows: a typing sign still waiting for budget is pointless then. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly send: () => Promise<void>,
    private readonly scheduler: WriteScheduler,
    private readonly logger: Logger,
    private readonly everyMs: number,
    private readonly afterMs: number,
  ) {}

  start(): void {
    let waiting = false;
    const typing = () => {
      // A renewal still waiting for budget is renewal enough.
      if (waiting) return;
      waiting = true;
      void this.scheduler
        .run('typing', () => {
          waiting = false;
          return this.send();
        }, [], this.stopped.signal)
        .catch((error: unknown) => this.logger.debug({ err: error }, 'typing indicator failed'));
    };
    this.grace = setTimeout(() => {
      typing();
      this.timer = setInterval(typing, this.everyMs);
    }, this.afterMs);
  }

  stop(): void {
    clearTimeout(this.grace);
    clearInterval(this.timer);
    this.stopped.abort();
  }
}
