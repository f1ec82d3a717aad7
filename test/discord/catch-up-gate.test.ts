/** CatchUpGate: which live messages wait for a new session's catch-up, and in what order they pass. */
import { describe, expect, it } from 'vitest';
import { CatchUpGate } from '../../src/adapters/discord/catch-up-gate.js';

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('CatchUpGate', () => {
  it('hands a message on at once when no catch-up runs', () => {
    const gate = new CatchUpGate();
    const handled: string[] = [];
    gate.pass('t1', () => handled.push('live'));
    expect(handled).toEqual(['live']);
  });

  it('holds every message until the catch-up has listed its threads, then only those of threads still read back', async () => {
    const gate = new CatchUpGate();
    const handled: string[] = [];
    const progress = gate.begin();
    gate.pass('t1', () => handled.push('t1 live'));
    gate.pass('other', () => handled.push('other live'));
    await settle();
    expect(handled).toEqual([]);

    progress.listed(['t1', 't2']);
    await settle();
    expect(handled).toEqual(['other live']);

    // What the catch-up hands over for t1 comes before the live message that waited.
    handled.push('t1 missed');
    progress.caughtUp('t1');
    gate.pass('t2', () => handled.push('t2 live'));
    await settle();
    expect(handled).toEqual(['other live', 't1 missed', 't1 live']);

    progress.finished();
    await settle();
    expect(handled).toEqual(['other live', 't1 missed', 't1 live', 't2 live']);
    gate.pass('t2', () => handled.push('t2 later'));
    expect(handled.at(-1)).toBe('t2 later');
  });

  it("keeps one channel's held messages in arrival order, also one that arrives as the hold ends", async () => {
    const gate = new CatchUpGate();
    const handled: string[] = [];
    const progress = gate.begin();
    progress.listed(['t1']);
    gate.pass('t1', () => handled.push('first'));
    progress.caughtUp('t1');
    // The first one's turn has come but it has not run yet: the second still goes after it.
    gate.pass('t1', () => handled.push('second'));
    await settle();
    expect(handled).toEqual(['first', 'second']);
  });

  it('waits for every catch-up reading a thread, and lets a failed handler hold nothing up', async () => {
    const gate = new CatchUpGate();
    const handled: string[] = [];
    const first = gate.begin();
    first.listed(['t1']);
    const second = gate.begin();
    second.listed(['t1']);
    gate.pass('t1', () => {
      throw new Error('a handler that fails');
    });
    gate.pass('t1', () => handled.push('after the failure'));
    first.caughtUp('t1');
    await settle();
    expect(handled).toEqual([]);
    second.finished();
    await settle();
    expect(handled).toEqual(['after the failure']);
  });
});
