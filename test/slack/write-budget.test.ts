/**
 * Several answers at once in one channel against Slack's per-channel and per-method limits:
 * a 429 is waited out (Slack's client pauses for its retry-after), every answer lands once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';

describe("Slack's write budget", () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('answers six threads of one channel at once, each exactly once, with few 429s', { timeout: 60_000 }, async () => {
    w = await startSlackWorld('http', { spacingMs: 1000, fake: { enforceRateLimits: true, methodTiers: true } });
    const questions = Array.from({ length: 6 }, (_, i) => w!.slack.seed(CHANNEL, ALICE, `<@${w!.slack.botUserId}> question ${i}`));
    await Promise.all(
      questions.map((message) => w!.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: w!.slack.team })),
    );
    await expect.poll(async () => (await w!.h.store.jobs.open()).length, { timeout: 30_000 }).toBe(0);
    await w.h.core.idle();
    questions.forEach((message, i) => expect(w!.slack.botMessages(CHANNEL, message.ts).map((m) => m.text)).toEqual([`echo: question ${i}`]));
    expect(w.slack.calls.entries.filter((call) => call.response?.error === 'ratelimited').length).toBeLessThanOrEqual(6);
  });
});
