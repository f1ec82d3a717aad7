/** Stop, Regenerate and feedback buttons on Slack answers, through Bolt against the fake Slack. */
import { afterEach, describe, expect, it } from 'vitest';
import type { SlackMessage } from '../fakes/slack/fake-slack.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';

describe('Slack answer buttons', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  async function ask(world: SlackWorld, text: string, answer?: string) {
    if (answer !== undefined) world.h.anthropic.enqueue({ text: answer });
    const message = world.slack.seed(CHANNEL, ALICE, `<@${world.slack.botUserId}> ${text}`);
    await world.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: world.slack.team });
    await world.h.anthropic.waitForRequests(world.h.anthropic.messageRequests().length + 1);
    await world.h.core.idle();
    return message;
  }

  const last = (world: SlackWorld, parent: SlackMessage) => world.slack.botMessages(CHANNEL, parent.ts).at(-1) as SlackMessage;

  it.each(['http', 'socket'] as const)('puts Regenerate and feedback_buttons under a finished answer, and stores each person’s latest vote (%s)', async (mode) => {
    w = await startSlackWorld(mode);
    const parent = await ask(w, 'hello', 'Hello from Claude.');
    const answer = last(w, parent);
    const blockTypes = (answer.blocks as Array<{ type: string }>).map((b) => b.type);
    expect(blockTypes).toEqual(['markdown', 'actions', 'context_actions']);
    const buttons = w.slack.buttonValues(answer);
    expect(buttons.tl_regenerate).toEqual([expect.stringMatching(/^tl:regen:\d+$/)]);
    expect(buttons.tl_feedback).toEqual([expect.stringMatching(/^tl:up:/), expect.stringMatching(/^tl:down:/)]);
    expect(JSON.stringify(answer.blocks)).toContain('Regenerate');

    for (const [user, value] of [[ALICE, buttons.tl_feedback![1]], [BOB, buttons.tl_feedback![0]], [ALICE, buttons.tl_feedback![0]]] as const) {
      const before = w.slack.ephemerals.entries.length;
      await w.deliverInteractive(w.slack.blockActions(answer, user, 'tl_feedback', value as string, 'feedback_buttons'));
      await w.slack.ephemerals.waitFor((e) => w!.slack.ephemerals.entries.indexOf(e) >= before && e.user === user, 'feedback acknowledged');
    }
    expect(w.slack.ephemerals.entries.map((e) => e.text)).toEqual([expect.stringContaining('👎'), expect.stringContaining('👍'), expect.stringContaining('👍')]);
    expect(w.slack.ephemerals.entries[0]).toMatchObject({ channel: CHANNEL, user: ALICE, thread_ts: parent.ts });
    const answerId = (await w.h.store.answers.answerTo(Number(buttons.tl_regenerate![0]!.split(':')[2])))!.id;
    expect(await w.h.store.answers.voteOf(answerId, ALICE)).toBe('up');
    expect(await w.h.store.answers.voteOf(answerId, BOB)).toBe('up');
    const usage = await w.h.core.runUsageCommand({ platform: 'slack', workspaceId: w.slack.team, actor: { id: ALICE, name: 'Alice', isAdmin: true }, days: 1 });
    expect(usage.text).toContain('2 👍, 0 👎 (100% 👍)');
  });

  it('Regenerate rewrites the same message and the history keeps only the new answer; others are refused', async () => {
    w = await startSlackWorld('http');
    const parent = await ask(w, 'tell me a fact', 'Old fact about owls.');
    const answer = last(w, parent);
    const regen = w.slack.buttonValues(answer).tl_regenerate![0]!;

    await w.deliverInteractive(w.slack.blockActions(answer, BOB, 'tl_regenerate', regen));
    const refusal = await w.slack.ephemerals.waitFor((e) => e.user === BOB, 'refusal');
    expect(refusal.text).toMatch(/only the person who asked or an admin can regenerate/i);

    w.h.anthropic.enqueue({ text: 'New fact about otters.' });
    await w.deliverInteractive(w.slack.blockActions(answer, ALICE, 'tl_regenerate', regen));
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const replies = w.slack.botMessages(CHANNEL, parent.ts);
    expect(replies.map((m) => m.ts)).toEqual([answer.ts]);
    expect(replies[0]!.text).toBe('New fact about otters.');
    expect(w.slack.buttonValues(replies[0]!).tl_regenerate).toEqual([regen]);
    expect(JSON.stringify(w.h.anthropic.messageRequests()[1]!.body.messages)).not.toContain('owls');

    await w.replyInThread(parent.ts, ALICE, 'and another?');
    await w.h.anthropic.waitForRequests(3);
    const next = JSON.stringify(w.h.anthropic.messageRequests()[2]!.body.messages);
    expect(next).toContain('otters');
    expect(next).not.toContain('owls');
  });

  it('a Stop button on an answer written by updates (no native streaming) ends it, keeping the text', async () => {
    w = await startSlackWorld('socket', { fake: { failing: { 'chat.startStream': 'unknown_method' } } });
    w.h.anthropic.enqueue({ text: 'Going on and on. '.repeat(600), chunkSize: 20, chunkDelayMs: 10 });
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> talk`);
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: w.slack.team });
    const posted = await w.slack.calls.waitFor((c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes('tl_stop'), 'Stop shown');
    const streaming = w.slack.botMessages(CHANNEL, message.ts)[0]!;
    expect(posted).toBeDefined();
    await w.deliverInteractive(w.slack.blockActions(streaming, ALICE, 'tl_stop', w.slack.buttonValues(streaming).tl_stop![0]!));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const shown = w.slack.botMessages(CHANNEL, message.ts);
    expect(shown).toHaveLength(1);
    expect(shown[0]!.text).toMatch(/^Going on and on\..*_Stopped\._$/s);
    expect(shown[0]!.text.length).toBeLessThan('Going on and on. '.length * 300);
    expect(Object.keys(w.slack.buttonValues(shown[0]!))).toEqual(['tl_regenerate', 'tl_feedback']);
  });
});
