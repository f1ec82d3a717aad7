/**
 * The buttons under a playground answer over HTTP (`POST /api/controls`), on the real core and a
 * temp-file database: a vote is stored and acknowledged, Regenerate rewrites the answer in place
 * (same reply id, stored history with only the new answer), and bad presses get a clear 4xx.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FORGOTTEN_TEXT } from '../../src/core/answer-controls/answer-controls.js';
import type { Harness } from '../helpers/harness.js';
import { startWebWorld, type WebWorld } from './setup.js';

interface Entry {
  messageId: string;
  author: { kind: string };
  text: string;
  controls?: { regen: string; up: string; down: string };
}

describe('playground answer controls over HTTP', () => {
  let world: WebWorld;
  let h: Harness;
  let base: string;

  beforeEach(async () => {
    world = await startWebWorld();
    ({ h, base } = world);
  });
  afterEach(() => world.close());

  const json = (path: string, body: unknown, headers: Record<string, string> = {}) => world.json(path, body, headers);
  const entries = async (threadId: string) => ((await (await fetch(`${base}/api/threads/${threadId}`)).json()) as { entries: Entry[] }).entries;
  /** A thread with one answered question; returns it and the answer as the page reads it. */
  const answered = async (text: string) => {
    const { threadId } = (await (await json('/api/threads', { author: 'Ann', text })).json()) as { threadId: string };
    await h.core.idle();
    const answer = (await entries(threadId)).find((entry) => entry.author.kind === 'self') as Entry;
    return { threadId, answer };
  };
  const storedVote = async (answerMessageId: string, userId: string) => {
    const [recent] = await h.store.conversations.recent('web', 0);
    const row = (await h.store.messages.thread(recent!.conversation.id)).find((message) => message.platformMessageId === answerMessageId);
    return row === undefined ? undefined : h.store.answers.voteOf(row.id, userId);
  };

  it('stores each participant’s latest vote, acknowledges it to the presser, and /usage counts it', async () => {
    const { answer } = await answered('is this useful?');
    expect(answer.text).toBe('echo: is this useful?');
    expect(answer.controls).toEqual({ regen: expect.stringMatching(/^tl:regen:\d+$/), up: expect.stringMatching(/^tl:up:\d+$/), down: expect.stringMatching(/^tl:down:\d+$/) });
    const controls = answer.controls!;

    const up = await json('/api/controls', { actor: 'Ann', control: controls.up });
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ text: expect.stringContaining('👍') });
    expect(await storedVote(answer.messageId, 'web:ann')).toBe('up');

    const down = await json('/api/controls', { actor: 'Bob', control: controls.down });
    expect(((await down.json()) as { text: string }).text).toContain('👎');
    // Ann changes her mind: only her latest vote counts.
    await json('/api/controls', { actor: 'ann', control: controls.down });
    expect(await storedVote(answer.messageId, 'web:ann')).toBe('down');
    expect(await storedVote(answer.messageId, 'web:bob')).toBe('down');

    const usage = (await (await json('/api/admin/usage', { actor: 'Ann', fields: { days: 7 } })).json()) as { text: string };
    expect(usage.text).toContain('0 👍, 2 👎');
  });

  it('regenerates an answer in place: same message, only the new answer stored and sent on', async () => {
    const { threadId, answer } = await answered('tell me a joke');
    h.anthropic.enqueue({ text: 'A better joke.' });
    const regen = await json('/api/controls', { actor: 'Bob', control: answer.controls!.regen });
    expect(regen.status).toBe(200);
    expect(await regen.json()).toEqual({});
    await h.anthropic.waitForRequests(2);
    await h.core.idle();
    const after = await entries(threadId);
    expect(after.map((entry) => [entry.messageId, entry.text])).toEqual([
      [after[0]!.messageId, 'tell me a joke'],
      [answer.messageId, 'A better joke.'],
    ]);
    expect(after[1]!.controls).toEqual(answer.controls);
    // The regenerated request did not carry the old answer; the next one carries only the new one.
    expect(JSON.stringify(h.anthropic.messageRequests()[1]!.body)).not.toContain('echo: tell me a joke');
    await json(`/api/threads/${threadId}/messages`, { author: 'Ann', text: '@threadline another?' });
    await h.core.idle();
    const next = JSON.stringify(h.anthropic.messageRequests()[2]!.body);
    expect(next).toContain('A better joke.');
    expect(next).not.toContain('echo: tell me a joke');
  });

  it('answers a press on an answer it does not have with the core’s explanation', async () => {
    for (const control of ['tl:up:999999', 'tl:regen:999999']) {
      const response = await json('/api/controls', { actor: 'Ann', control });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ text: FORGOTTEN_TEXT });
    }
    expect(h.anthropic.messageRequests()).toEqual([]);
  });

  it.each([
    ['no actor', 400, (control: string) => json('/api/controls', { control }), /actor/],
    ['a control that is not a control id', 400, (control: string) => json('/api/controls', { actor: 'Ann', control: `${control}; drop table` }), /control: not a button/],
    ['a control that is not a string', 400, () => json('/api/controls', { actor: 'Ann', control: 7 }), /control/],
    ['malformed JSON', 400, (control: string) => json('/api/controls', `{"actor": "Ann", "control": "${control}"`), /Malformed JSON/],
    ['a form post (not JSON)', 415, (control: string) => fetch(`${base}/api/controls`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ actor: 'Ann', control }) }), /JSON/],
    ['a press from another site', 403, (control: string) => json('/api/controls', { actor: 'Ann', control }, { origin: 'http://evil.example' }), /other sites/],
  ])('refuses %s with a clear %i and records no vote', async (_name, status, send, message) => {
    const { answer } = await answered('vote on me');
    const response = await send(answer.controls!.up);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
    expect(await storedVote(answer.messageId, 'web:ann')).toBeUndefined();
  });
});
