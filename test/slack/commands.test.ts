import { afterEach, describe, expect, it } from 'vitest';
import { expectChangeApplied } from '../helpers/instructions.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
type Body = { system: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ text?: string }> }> };

async function command(w: SlackWorld, text: string, user: string, name = '/instructions', channel = CHANNEL): Promise<string> {
  const payload = w.slack.slashCommand(name, text, user, channel);
  const id = payload.response_url!.split('/respond/')[1]!;
  if (w.mode === 'http') {
    const response = await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(200);
  } else {
    w.slack.sendSocket('slash_commands', payload);
  }
  const answer = await w.slack.responses.waitFor((r) => r.id === id, `response to ${name} ${text}`);
  expect(answer.body.response_type).toBe('ephemeral');
  return String(answer.body.text);
}

describe.each(['http', 'socket'] as const)('Slack /instructions (%s mode)', (mode) => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('lets admins set, show, clear and audit; refuses others server-side', async () => {
    w = await startSlackWorld(mode, { adminUserIds: [BOB] });
    w.slack.users.get(ALICE)!.is_admin = true;
    w.slack.addUser('U0GUEST001', 'guest', 'Guest', { is_admin: true, is_restricted: true });
    w.slack.addUser('U0PLAIN001', 'plain', 'Plain Member');
    expect(await command(w, 'set Keep answers under 100 words.', ALICE)).toMatch(/Workspace instructions set/);
    expect(await command(w, 'set --channel Reply in French.', BOB)).toMatch(/Channel instructions set/);
    expect(await command(w, 'set hacked', 'U0PLAIN001')).toMatch(/Only workspace admins and owners/);
    expect(await command(w, 'set hacked', 'U0GUEST001')).toMatch(/Only workspace admins and owners/);
    expect(await command(w, 'show', ALICE)).toMatch(/Workspace instructions \(set by Alice Liddell[\s\S]*> Keep answers under 100 words\.[\s\S]*Channel instructions \(set by Bob Builder[\s\S]*> Reply in French\./);
    expect(await command(w, 'frobnicate', ALICE)).toMatch(/^Usage: `\/instructions set \[--channel\] <text>`/);
    expect(await command(w, `set ${'x'.repeat(8001)}`, ALICE)).toMatch(/at most 8000 characters; these are 8001/);
    expect(await command(w, 'set', ALICE)).toMatch(/text is empty/);
    expect(await command(w, 'clear --channel', ALICE)).toMatch(/Channel instructions cleared/);
    expect(await command(w, 'history --channel', ALICE)).toMatch(/Alice Liddell cleared: “Reply in French\.” → \(none\)[\s\S]*Bob Builder set: \(none\) → “Reply in French\.”/);
    // The order in the prompt: workspace first, then channel.
    await command(w, 'set --channel CHANNEL RULE', ALICE);
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> hi`);
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL });
    await w.h.anthropic.waitForRequests(1);
    const system = (w.h.anthropic.messageRequests()[0]?.body as unknown as Body).system[0]?.text ?? '';
    expect(system.indexOf('Keep answers under 100 words.')).toBeGreaterThan(0);
    expect(system.indexOf('CHANNEL RULE')).toBeGreaterThan(system.indexOf('Keep answers under 100 words.'));
    expect(system).not.toContain('hacked');
  });
});

describe.each([
  ['claude-opus-4-8', 'a system message after the next user turn, the cached prefix untouched'],
  ['claude-sonnet-4-6', 'a rebuilt top-level system prompt'],
])('a change in the middle of a running Slack thread on %s', (model, _what) => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('shapes the very next reply', async () => {
    w = await startSlackWorld('http', { model, adminUserIds: [ALICE] });
    const parent = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> first question`);
    await w.deliver({ type: 'app_mention', user: ALICE, text: parent.text, ts: parent.ts, channel: CHANNEL });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    await w.replyInThread(parent.ts, ALICE, 'second question');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(await command(w, 'set Answer only in French.', ALICE)).toMatch(/set/);
    await w.replyInThread(parent.ts, ALICE, 'third question');
    await w.h.anthropic.waitForRequests(3);
    const [, before, after] = w.h.anthropic.messageRequests().map((r) => r.body);
    expectChangeApplied(model, before, after, 'Answer only in French.');
  });
});
