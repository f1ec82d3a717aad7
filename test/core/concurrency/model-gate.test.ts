/**
 * The concurrency gate through the real SDK against the fake Messages API's account limits:
 * replies wait their turn (showing progress meanwhile), 429s are few and never reach a user.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AdaptiveConcurrency } from '../../../src/core/concurrency/adaptive-concurrency.js';
import { createCoreHarness, type Harness } from '../../helpers/harness.js';
import { inbound } from '../../helpers/messages.js';
import { recordingSink, type RecordingSink } from '../../helpers/recording-sink.js';

const thread = (i: number) => ({ platform: 'discord' as const, workspaceId: 'g', channelId: 'c', threadKey: `t${i}` });

describe('model calls under an account limit', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('answers 40 threads at once against a 5-concurrent account: every one answered, few 429s, never more than the cap in flight', async () => {
    const gate = new AdaptiveConcurrency({ cap: 8, initial: 2 });
    h = await createCoreHarness({ concurrency: gate, anthropic: { rateLimit: { maxConcurrent: 5 }, latency: { ttftMs: 20, tokensPerSecond: 4000 } }, logLevel: 'info' });
    const sinks: RecordingSink[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const sink = recordingSink();
        sinks.push(sink);
        return h!.core.handle(inbound(`question ${i}`, { thread: thread(i), mentionsBot: true }), { sink: () => sink });
      }),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(Array(40).fill('answered'));
    expect(sinks.every((s) => s.finished.length === 1 && s.failed.length === 0)).toBe(true);
    const statuses = h.anthropic.messageRequests().map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    // The headers stop growth at the account's limit: at most a few overshoot while calls race.
    expect(statuses.filter((s) => s === 429).length).toBeLessThanOrEqual(8);
    expect(gate.peakInFlight).toBeLessThanOrEqual(8);
  });

  it('shows progress for a reply that waits for a free slot before its model call starts, and says when the call starts', async () => {
    const gate = new AdaptiveConcurrency({ cap: 1, initial: 1, floor: 1 });
    h = await createCoreHarness({ concurrency: gate, logLevel: 'info', idleTimeoutMs: 1500, maxRetries: 0 });
    // The first answer holds the only slot until the stall timeout gives up on it.
    h.anthropic.enqueue({ text: 'never finished '.repeat(20), stallAfterChars: 10 });
    let firstDone = false;
    const recorded = recordingSink();
    const first = {
      ...recorded,
      async fail(message: string, code: Parameters<typeof recorded.fail>[1]) {
        firstDone = true;
        return recorded.fail(message, code);
      },
    };
    const one = h.core.handle(inbound('first', { thread: thread(1), mentionsBot: true }), { sink: () => first });
    await h.anthropic.waitForRequests(1);
    let firstDoneWhenSecondStarted: boolean | undefined;
    const secondEvents: string[] = [];
    const second = {
      ...recordingSink(),
      async start() {
        firstDoneWhenSecondStarted = firstDone;
        secondEvents.push(`start, ${gate.inFlight} in flight`);
      },
      // Told when its call leaves the gate (the write scheduler keeps budget for its first text from then on).
      modelStarted() {
        secondEvents.push(`model started, ${gate.inFlight} in flight`);
      },
    };
    const two = h.core.handle(inbound('second', { thread: thread(2), mentionsBot: true }), { sink: () => second });
    await Promise.all([one, two]);
    expect(firstDoneWhenSecondStarted).toBe(false);
    // Its start came while the first call held the only slot; its call began in that slot.
    expect(secondEvents).toEqual(['start, 1 in flight', 'model started, 1 in flight']);
    expect(recorded.failed[0]?.code).toBe('model_stalled');
    expect(second.finished).toHaveLength(1);
    expect(gate.peakInFlight).toBe(1);
  });
});
