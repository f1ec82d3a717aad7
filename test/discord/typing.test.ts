/**
 * Discord's typing sign for one answer (typing.ts): asked for only after a short grace, so an
 * answer whose text shows first sends none, and renewed until stopped; a sign still waiting for
 * budget when text shows is never sent. Fake timers stand in for the grace and the renewals.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TypingIndicator } from '../../src/adapters/discord/typing.js';
import { WriteScheduler } from '../../src/core/concurrency/write-scheduler.js';

const logger = pino({ level: 'silent' });

describe('the typing sign', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    { stopAfterMs: 100, sent: 0, what: 'text shown within the grace: no sign at all' },
    { stopAfterMs: 300, sent: 1, what: 'no text by the grace: one sign' },
    { stopAfterMs: 8_299, sent: 1, what: 'still waiting just before the renewal: one' },
    { stopAfterMs: 8_300, sent: 2, what: 'still waiting at the renewal: renewed' },
  ])('$what', async ({ stopAfterMs, sent }) => {
    const send = vi.fn(async () => undefined);
    const typing = new TypingIndicator(send, new WriteScheduler(), logger, 8_000, 300);
    typing.start();
    await vi.advanceTimersByTimeAsync(stopAfterMs);
    typing.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(send).toHaveBeenCalledTimes(sent);
  });

  it('a sign still waiting for budget when text shows is never sent', async () => {
    const shared = { key: 'global', limit: 1, windowMs: 1_000 };
    const scheduler = new WriteScheduler({ shared, typingShare: 1 });
    // Another write holds the only slot.
    const held = await scheduler.acquire('final');
    const send = vi.fn(async () => undefined);
    const typing = new TypingIndicator(send, scheduler, logger, 8_000, 300);
    typing.start();
    await vi.advanceTimersByTimeAsync(300);
    expect(scheduler.waiting('typing')).toBe(1);
    typing.stop();
    held?.done();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(send).not.toHaveBeenCalled();
    expect(scheduler.waiting('typing')).toBe(0);
  });
});
