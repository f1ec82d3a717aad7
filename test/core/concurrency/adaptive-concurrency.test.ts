import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency, type Permit } from '../../../src/core/concurrency/adaptive-concurrency.js';
import { ManualClock, settle } from './manual-clock.js';

/** Queues `count` calls on `key`; `granted` collects their permits in the order they start. */
function queue(gate: AdaptiveConcurrency, key: string, count: number, granted: Array<{ key: string; index: number; permit: Permit }>) {
  for (let index = 0; index < count; index += 1) void gate.acquire(key).then((permit) => granted.push({ key, index, permit }));
}

describe('AdaptiveConcurrency', () => {
  it('starts at the initial limit and takes the room a success announces, or one more without announcements', async () => {
    const gate = new AdaptiveConcurrency({ cap: 10, initial: 2, floor: 1, clock: new ManualClock() });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 20, granted);
    await settle();
    expect(granted).toHaveLength(2);
    // Five requests left when the first was answered, one of them since taken by the second call.
    granted[0]?.permit.succeeded({ requestsRemaining: 5, tokensRemaining: 1_000_000 });
    await settle();
    expect(gate.limit).toBe(6);
    expect(granted).toHaveLength(6);
    // Without rate-limit headers (a proxy) a success counts as room for one more.
    granted[1]?.permit.succeeded({});
    await settle();
    expect(gate.limit).toBe(7);
    expect(gate.inFlight).toBe(7);
    granted[2]?.permit.succeeded({ requestsRemaining: 1000 });
    expect(gate.limit).toBe(10);
  });

  it.each([
    ['no requests remaining', { requestsRemaining: 0 }],
    ['remaining requests already taken by calls started since', { requestsRemaining: 2 }],
  ])('does not grow with %s', async (_name, headroom) => {
    const gate = new AdaptiveConcurrency({ cap: 10, initial: 3, floor: 1, clock: new ManualClock() });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 10, granted);
    await settle();
    // The first call's answer was produced before the two calls after it reached the API.
    granted[0]?.permit.succeeded(headroom);
    await settle();
    expect(gate.limit).toBe(3);
    expect(granted).toHaveLength(3);
  });

  it('does not grow when the tokens left would not cover another call', async () => {
    const gate = new AdaptiveConcurrency({ cap: 10, initial: 1, floor: 1, clock: new ManualClock() });
    gate.observeTokens(5000);
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 3, granted);
    await settle();
    granted[0]?.permit.succeeded({ requestsRemaining: 50, tokensRemaining: 4000 });
    await settle();
    expect(gate.limit).toBe(1);
    granted[0]?.permit.release();
    await settle();
    granted[1]?.permit.succeeded({ requestsRemaining: 50, tokensRemaining: 20_000 });
    await settle();
    // Room for four more calls of 5000 tokens beside the one in flight.
    expect(gate.limit).toBe(5);
  });

  it('grows into the room the last success announced when calls come in after it', async () => {
    const gate = new AdaptiveConcurrency({ cap: 50, initial: 2, floor: 1, clock: new ManualClock() });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 2, granted);
    await settle();
    // A burst's first calls are answered before its other mentions are in: no demand, no growth yet.
    for (const { permit } of granted) permit.succeeded({ requestsRemaining: 30 });
    expect(gate.limit).toBe(2);
    queue(gate, 'b', 40, granted);
    await settle();
    // Thirty requests left when counted, none started since: the two in flight plus thirty.
    expect(gate.limit).toBe(32);
    expect(granted).toHaveLength(32);
  });

  it('does not grow into what was announced before a 429', async () => {
    const clock = new ManualClock();
    const gate = new AdaptiveConcurrency({ cap: 50, initial: 2, floor: 1, clock });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 2, granted);
    await settle();
    granted[0]?.permit.succeeded({ requestsRemaining: 1000 });
    granted[1]?.permit.refused(1000);
    for (const { permit } of granted) permit.release();
    clock.advance(1000);
    queue(gate, 'b', 10, granted);
    await settle();
    // Cut to three quarters of the two in flight at the 429, and kept there.
    expect(gate.limit).toBe(1);
    expect(granted).toHaveLength(3);
  });

  it('never goes above the requests the account allows per minute', async () => {
    const gate = new AdaptiveConcurrency({ cap: 64, initial: 8, floor: 1, clock: new ManualClock() });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 20, granted);
    await settle();
    granted[0]?.permit.succeeded({ requestsRemaining: 40, requestsLimit: 6 });
    expect(gate.limit).toBe(6);
    for (const { permit } of granted) permit.succeeded({ requestsRemaining: 40, requestsLimit: 6 });
    await settle();
    expect(gate.limit).toBe(6);
  });

  it('does not grow past the cap, nor without demand', async () => {
    const gate = new AdaptiveConcurrency({ cap: 3, initial: 2, floor: 1, clock: new ManualClock() });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 2, granted);
    await settle();
    // Two in flight, nothing waiting: no reason to raise the limit.
    granted[0]?.permit.succeeded({ requestsRemaining: 100 });
    expect(gate.limit).toBe(2);
    queue(gate, 'b', 10, granted);
    await settle();
    granted[1]?.permit.succeeded({ requestsRemaining: 100 });
    await settle();
    for (const { permit } of granted.slice(2)) permit.succeeded({ requestsRemaining: 100 });
    await settle();
    expect(gate.limit).toBe(3);
    expect(gate.inFlight).toBe(3);
    expect(gate.peakInFlight).toBe(3);
  });

  it('backs off on a 429: fewer calls in flight, and none starts before retry-after has passed', async () => {
    const clock = new ManualClock();
    const gate = new AdaptiveConcurrency({ cap: 64, initial: 8, floor: 2, clock });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    for (let t = 0; t < 20; t += 1) queue(gate, `t${t}`, 1, granted);
    await settle();
    expect(granted).toHaveLength(8);
    granted[7]?.permit.refused(2000);
    // A second refusal of the same episode does not cut again.
    granted[6]?.permit.refused(2000);
    expect(gate.limit).toBe(6);
    for (const { permit } of granted) permit.release();
    await settle();
    expect(granted).toHaveLength(8);
    clock.advance(1999);
    await settle();
    expect(granted).toHaveLength(8);
    clock.advance(1);
    await settle();
    expect(granted).toHaveLength(14);
  });

  it('uses a default pause for a 529 without retry-after, and never goes below the floor', async () => {
    const clock = new ManualClock();
    const gate = new AdaptiveConcurrency({ cap: 64, initial: 4, floor: 3, clock, defaultBackoffMs: 500 });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    queue(gate, 'a', 10, granted);
    await settle();
    granted[0]?.permit.refused(undefined);
    expect(gate.limit).toBe(3);
    expect(gate.pausedUntilMs).toBe(500);
    for (const { permit } of granted) permit.release();
    clock.advance(500);
    await settle();
    expect(granted).toHaveLength(7);
    granted[4]?.permit.refused(undefined);
    expect(gate.limit).toBe(3);
  });

  it('serves threads round robin, each in arrival order, and a retried call first', async () => {
    const gate = new AdaptiveConcurrency({ cap: 1, initial: 1, floor: 1, clock: new ManualClock() });
    const granted: Array<{ key: string; index: number; permit: Permit }> = [];
    granted.push({ key: 'other', index: 0, permit: await gate.acquire('other') });
    // The busy thread asks four times before the others ask once.
    queue(gate, 'busy', 4, granted);
    queue(gate, 'b', 1, granted);
    queue(gate, 'c', 2, granted);
    await settle();
    const order = () => granted.slice(1).map(({ key, index }) => `${key}${index}`);
    const finishOne = async () => {
      granted.at(-1)?.permit.release();
      await settle();
    };
    for (let i = 0; i < 4; i += 1) await finishOne();
    expect(order()).toEqual(['busy0', 'b0', 'c0', 'busy1']);
    void gate.acquire('b', { retry: true }).then((permit) => granted.push({ key: 'retry', index: 0, permit }));
    for (let i = 0; i < 4; i += 1) await finishOne();
    expect(order()).toEqual(['busy0', 'b0', 'c0', 'busy1', 'retry0', 'c1', 'busy2', 'busy3']);
  });

  it('drops a waiting call whose signal aborts', async () => {
    const gate = new AdaptiveConcurrency({ cap: 1, initial: 1, floor: 1, clock: new ManualClock() });
    const first = await gate.acquire('a');
    const stop = new AbortController();
    const waiting = gate.acquire('b', { signal: stop.signal });
    stop.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(gate.waiting).toBe(0);
    first.release();
    expect(gate.inFlight).toBe(0);
  });
});
