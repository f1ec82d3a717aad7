import { describe, expect, it } from 'vitest';
import { WriteScheduler, type WriteKind } from '../../../src/core/concurrency/write-scheduler.js';
import { ManualClock, settle } from './manual-clock.js';

function setup(limit: number, options: { editShare?: number; typingShare?: number } = {}) {
  const clock = new ManualClock();
  const scheduler = new WriteScheduler({ shared: { key: 'global', limit, windowMs: 1000 }, clock, ...options });
  const sent: string[] = [];
  const ask = (kind: WriteKind, label: string, budgets = [] as Parameters<WriteScheduler['acquire']>[1]) =>
    void scheduler.acquire(kind, budgets).then((ticket) => {
      sent.push(label);
      ticket?.done();
    });
  return { clock, scheduler, sent, ask };
}

describe('WriteScheduler', () => {
  it('sends the first text of a waiting answer before the progress edits queued ahead of it', async () => {
    const { clock, sent, ask } = setup(2, { editShare: 1 });
    ask('edit', 'edit a1');
    ask('edit', 'edit b1');
    await settle();
    expect(sent).toEqual(['edit a1', 'edit b1']);
    ask('edit', 'edit a2');
    ask('edit', 'edit b2');
    ask('first', 'first c');
    ask('final', 'final a');
    await settle();
    expect(sent).toHaveLength(2);
    clock.advance(1000);
    await settle();
    expect(sent.slice(2)).toEqual(['first c', 'final a']);
    clock.advance(1000);
    await settle();
    expect(sent.slice(4)).toEqual(['edit a2', 'edit b2']);
  });

  it('never drops a final text, however many edits compete, and keeps every budget window', async () => {
    const { clock, sent, ask, scheduler } = setup(5);
    for (let i = 0; i < 40; i += 1) ask('edit', `edit ${i}`);
    for (let i = 0; i < 10; i += 1) ask('final', `final ${i}`);
    await settle();
    for (let t = 0; t < 20 && scheduler.waiting() > 0; t += 1) {
      clock.advance(1000);
      await settle();
    }
    expect(sent.filter((label) => label.startsWith('final'))).toEqual(Array.from({ length: 10 }, (_, i) => `final ${i}`));
    expect(sent).toHaveLength(50);
    // The finals went in the first windows they could, before the edits still waiting.
    expect(sent.indexOf('final 9')).toBeLessThan(sent.indexOf('edit 20'));
  });

  it('leaves part of the budget to first texts: edits and typing fill only their share', async () => {
    const { sent, ask } = setup(10, { editShare: 0.8, typingShare: 0.5 });
    for (let i = 0; i < 20; i += 1) ask('typing', `typing ${i}`);
    await settle();
    expect(sent).toHaveLength(5);
    for (let i = 0; i < 20; i += 1) ask('edit', `edit ${i}`);
    await settle();
    expect(sent).toHaveLength(8);
    ask('first', 'first');
    ask('first', 'first 2');
    await settle();
    expect(sent.slice(8)).toEqual(['first', 'first 2']);
  });

  it('keeps a slot for each answer whose model call runs, so what edits and typing hold cannot delay its first text', async () => {
    const { clock, scheduler, sent, ask } = setup(10, { editShare: 0.8, typingShare: 0.5 });
    const releases = Array.from({ length: 6 }, () => scheduler.expectFirst());
    for (let i = 0; i < 10; i += 1) ask('edit', `edit ${i}`);
    for (let i = 0; i < 10; i += 1) ask('typing', `typing ${i}`);
    await settle();
    // Edits may fill 8, typing 5; six slots are kept: 2 edits, no typing.
    expect(sent).toEqual(['edit 0', 'edit 1']);
    for (let i = 0; i < 6; i += 1) ask('first', `first ${i}`);
    await settle();
    expect(sent.slice(2)).toEqual(['first 0', 'first 1', 'first 2', 'first 3', 'first 4', 'first 5']);
    // The first texts are out: their slots are free again.
    for (const release of releases) release();
    releases[0]?.(); // idempotent: a second release frees nothing more
    clock.advance(1000);
    await settle();
    // Typing (before edits) takes its share, edits the rest of theirs.
    expect(sent.slice(8)).toEqual(['typing 0', 'typing 1', 'typing 2', 'typing 3', 'typing 4', 'edit 2', 'edit 3', 'edit 4']);
  });

  it('holds final texts back while first texts are coming, for at most two seconds: then they go before anything', async () => {
    const { clock, scheduler, sent, ask } = setup(10);
    for (let i = 0; i < 50; i += 1) scheduler.expectFirst();
    for (let i = 0; i < 6; i += 1) ask('final', `final ${i}`);
    ask('edit', 'edit');
    await settle();
    // Every slot is kept for the first texts: the finals' readers already see their answers streaming.
    expect(sent).toEqual([]);
    clock.advance(1000);
    for (let i = 0; i < 10; i += 1) ask('first', `first ${i}`);
    await settle();
    expect(sent).toHaveLength(10);
    // The window is full until 2000; first texts asked meanwhile wait, and so do the finals.
    clock.advance(999);
    for (let i = 10; i < 14; i += 1) ask('first', `first ${i}`);
    await settle();
    expect(sent).toHaveLength(10);
    // At 2000 the finals have waited two seconds: they go first, the first texts take what is left.
    clock.advance(1);
    await settle();
    expect(sent.slice(10)).toEqual(['final 0', 'final 1', 'final 2', 'final 3', 'final 4', 'final 5', 'first 10', 'first 11', 'first 12', 'first 13']);
  });

  it('waits for a write’s own budget without holding up writes that have room', async () => {
    const { sent, ask } = setup(100);
    const channelA = { key: 'channel:A', limit: 1, windowMs: 1000 };
    ask('first', 'A first', [channelA]);
    ask('first', 'A second', [channelA]);
    ask('edit', 'B edit', [{ key: 'channel:B', limit: 1, windowMs: 1000 }]);
    await settle();
    expect(sent).toEqual(['A first', 'B edit']);
  });

  it('honours a platform 429: nothing spends that budget before retry-after', async () => {
    const { clock, sent, ask, scheduler } = setup(100);
    scheduler.hold('global', 3000);
    ask('first', 'first');
    await settle();
    expect(sent).toEqual([]);
    clock.advance(2999);
    await settle();
    expect(sent).toEqual([]);
    clock.advance(1);
    await settle();
    expect(sent).toEqual(['first']);
  });

  it('counts a write from when it is let through until a window after it came back', async () => {
    const clock = new ManualClock();
    const scheduler = new WriteScheduler({ shared: { key: 'global', limit: 2, windowMs: 1000 }, clock });
    const a = await scheduler.acquire('final');
    await scheduler.acquire('final');
    let third = false;
    void scheduler.acquire('first').then(() => (third = true));
    // Both still in flight (a slow platform, a busy process): nothing more may go, however long.
    clock.advance(5000);
    await settle();
    expect(third).toBe(false);
    a?.done();
    clock.advance(999);
    await settle();
    expect(third).toBe(false);
    clock.advance(1);
    await settle();
    expect(third).toBe(true);
  });

  it('counts a request that did not ask (spent) against its budget for a window', async () => {
    const { clock, sent, ask, scheduler } = setup(3);
    scheduler.spent('global');
    scheduler.spent('global');
    ask('first', 'first a');
    ask('first', 'first b');
    await settle();
    expect(sent).toEqual(['first a']);
    clock.advance(999);
    await settle();
    expect(sent).toEqual(['first a']);
    clock.advance(1);
    await settle();
    expect(sent).toEqual(['first a', 'first b']);
  });

  it('stretches edit spacing while many answers stream at once', () => {
    const { scheduler } = setup(50, { editShare: 0.8 });
    expect(scheduler.editSpacing(1000)).toBe(1000);
    for (let i = 0; i < 20; i += 1) scheduler.streaming(true);
    expect(scheduler.editSpacing(1000)).toBe(1000);
    for (let i = 0; i < 60; i += 1) scheduler.streaming(true);
    // 80 answers streaming, 40 edits a second for all of them: one edit every 2 s each.
    expect(scheduler.editSpacing(1000)).toBe(2000);
    for (let i = 0; i < 80; i += 1) scheduler.streaming(false);
    expect(scheduler.editSpacing(1000)).toBe(1000);
  });
});
