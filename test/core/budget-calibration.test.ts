import { afterEach, describe, expect, it } from 'vitest';
import { BudgetCalibration } from '../../src/core/budget-calibration.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

const tooLong = (counted: number, maximum: number) => `Messages API error 400 invalid_request_error: prompt is too long: ${counted} tokens > ${maximum} maximum`;

describe('BudgetCalibration', () => {
  it.each<[string, Array<[estimated: number, counted: number]>, number]>([
    ['an estimate that errs high changes nothing', [[1000, 900], [5000, 4000]], 1],
    ['a shortfall raises the factor to the next step', [[1000, 1100]], 1.25],
    ['a large one to the first step above it', [[1000, 3500]], 1.25 ** 6],
    ['it never comes back down', [[1000, 3500], [1000, 1000]], 1.25 ** 6],
    ['a smaller shortfall after a larger one changes nothing', [[1000, 3500], [1000, 2000]], 1.25 ** 6],
    ['nothing estimated, nothing learned', [[0, 500]], 1],
    ['it stops at about 14×', [[1, 1_000_000]], 1.25 ** 12],
  ])('%s', (_name, observations, factor) => {
    const calibration = new BudgetCalibration();
    for (const [estimated, counted] of observations) calibration.observe(7, estimated, counted);
    expect(calibration.factor(7)).toBeCloseTo(factor, 10);
    expect(calibration.budget(7, 100_000)).toBe(Math.floor(100_000 / factor));
    expect(calibration.factor(8)).toBe(1);
  });

  it.each<[string, string, number, number, boolean, number]>([
    // 300k counted for 86k estimated: a full 150k budget would be ~523k; it must come to 90% of 200k.
    ['a prompt too long by the API’s count', tooLong(300_000, 200_000), 86_000, 150_000, true, 1.25 ** 5],
    // The count was right but the budget itself too large for this model: shrink anyway.
    ['a budget larger than the model allows', tooLong(210_000, 200_000), 210_000, 250_000, true, 1.25 ** 2],
    ['any other 400', 'Messages API error 400 invalid_request_error: messages.0: bad', 1000, 150_000, false, 1],
  ])('%s', (_name, message, estimated, budget, retry, factor) => {
    const calibration = new BudgetCalibration();
    expect(calibration.tooLong(1, estimated, budget, message)).toBe(retry);
    expect(calibration.factor(1)).toBeCloseTo(factor, 10);
    if (retry) {
      const [, counted = 0, maximum = 0] = /(\d+) tokens > (\d+)/.exec(message)?.map(Number) ?? [];
      expect((counted / estimated) * calibration.budget(1, budget)).toBeLessThanOrEqual(maximum * 0.9);
    }
  });

  it('grows by a step at least on every "too long", until the cap', () => {
    const calibration = new BudgetCalibration();
    let retries = 0;
    while (calibration.tooLong(1, 1000, 1000, tooLong(1001, 1000))) retries += 1;
    expect(retries).toBe(12);
    expect(calibration.factor(1)).toBeCloseTo(1.25 ** 12, 10);
  });
});

describe('the budget follows what the API counts', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  // A tokenizer 3.5× denser than the bot's estimate: one token a character, on a 200k model.
  const denseHarness = () =>
    createCoreHarness({ model: 'claude-sonnet-4-5', maxTokens: 4096, contextBudgetTokens: 150_000, anthropic: { countTokens: (json) => json.length } });
  const paragraph = (n: number, chars: number) => `part ${n}: ${'the quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(chars / 45))}`.slice(0, chars);

  it('learns from each reply’s usage, so a growing thread never reaches the window', async () => {
    h = await denseHarness();
    for (let turn = 0; turn < 8; turn += 1) {
      h.anthropic.enqueue({ text: `answer ${turn}` });
      const sink = recordingSink();
      await h.core.handle(inbound(`${paragraph(turn, 40_000)} question ${turn}?`, { mentionsBot: true }), { sink: () => sink });
      expect(sink.failed).toEqual([]);
    }
    const requests = h.anthropic.messageRequests();
    expect(requests.map((request) => request.status)).toEqual(Array(8).fill(200));
    const counted = requests.map((request) => (request.usage ? request.usage.input_tokens + request.usage.cache_read_input_tokens + request.usage.cache_creation_input_tokens : 0));
    expect(Math.max(...counted)).toBeLessThanOrEqual(200_000);
    // The oldest turns went, the newest question stayed.
    const last = JSON.stringify(requests.at(-1)?.body);
    expect(last).toMatch(/earlier messages were left out/);
    expect(last).toContain('question 7?');
  });

  it('answers a first message the API finds too long, by trying again within the window', async () => {
    h = await denseHarness();
    const sink = recordingSink();
    await h.core.handle(inbound(`${paragraph(0, 250_000)} what does this say?`, { mentionsBot: true }), { sink: () => sink });
    const requests = h.anthropic.messageRequests();
    expect(requests.map((request) => request.status)).toEqual([400, 200]);
    expect(requests[0]?.error?.message).toMatch(/^prompt is too long: \d+ tokens > 200000 maximum$/);
    expect(sink.failed).toEqual([]);
    expect(sink.finished).toHaveLength(1);
    expect(JSON.stringify(requests[1]?.body)).toMatch(/message truncated/);
    expect(h.logLines.some((line) => line.includes('prompt too long for the model'))).toBe(true);
  });
});
