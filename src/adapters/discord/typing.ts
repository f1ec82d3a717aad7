/**
 * Discord's typing indicator for one answer: shown at once and renewed (it lasts ~10 s) until
 * text is visible, each renewal a write the bot's WriteScheduler lets through when budget allows.
 */
import type { Logger } from 'pino';
import type { WriteScheduler } from '../../core/concurrency/write-scheduler.js';

export class TypingIndicator {
  private timer: NodeJS.Timeout | undefined;
  /** Aborted once text shows: a typing sign still waiting for budget is pointless then. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly send: () => Promise<void>,
    private readonly scheduler: WriteScheduler,
    private readonly logger: Logger,
    private readonly everyMs: number,
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
    typing();
    this.timer = setInterval(typing, this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopped.abort();
  }
}
