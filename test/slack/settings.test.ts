/** /settings through the real Bolt against the fake Slack and the fake Messages API. */
import { afterEach, describe, expect, it } from 'vitest';
import { parseSettingsText } from '../../src/adapters/slack/settings-command.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

const GENERAL = 'C0GENERAL1';
const RANDOM = 'C0RANDOM01';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
type Body = { model: string; system: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ text?: string }> }> };

async function settings(w: SlackWorld, text: string, user = ALICE, channel = GENERAL): Promise<string> {
  const payload = w.slack.slashCommand('/settings', text, user, channel);
  const id = payload.response_url!.split('/respond/')[1]!;
  if (w.mode === 'http') {
    const response = await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(200);
  } else {
    w.slack.sendSocket('slash_commands', payload);
  }
  const answer = await w.slack.responses.waitFor((r) => r.id === id, `response to /settings ${text}`);
  expect(answer.body.response_type).toBe('ephemeral');
  return String(answer.body.text);
}

async function mention(w: SlackWorld, text: string, channel = GENERAL, user = ALICE) {
  const message = w.slack.seed(channel, user, `<@${w.slack.botUserId}> ${text}`);
  await w.deliver({ type: 'app_mention', user, text: message.text, ts: message.ts, channel, team: w.slack.team });
  return message;
}

const bodies = (w: SlackWorld) => w.h.anthropic.messageRequests().map((r) => r.body as unknown as Body);

describe('parsing /settings text', () => {
  it.each([
    ['show', { kind: 'command', action: 'show', scope: 'workspace' }],
    ['history --channel', { kind: 'command', action: 'history', scope: 'channel' }],
    ['set model claude-sonnet-4-6', { kind: 'command', action: 'set', scope: 'workspace', key: 'model', value: 'claude-sonnet-4-6' }],
    ['SET --channel answers off', { kind: 'command', action: 'set', scope: 'channel', key: 'answers', value: 'off' }],
    ['set prompts Summarize &amp; list | Draft a reply', { kind: 'command', action: 'set', scope: 'workspace', key: 'prompts', value: 'Summarize & list | Draft a reply' }],
    ['set', { kind: 'command', action: 'set', scope: 'workspace', value: '' }],
    ['clear --channel model', { kind: 'command', action: 'clear', scope: 'channel', key: 'model' }],
    ['', { kind: 'usage' }],
    ['reset everything', { kind: 'usage' }],
  ])('%j', (raw, expected) => {
    expect(parseSettingsText(raw)).toEqual(expected);
  });
});

describe.each(['http', 'socket'] as const)('Slack /settings (%s mode)', (mode) => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('admins only; a channel model applies there while another channel keeps the default; history shows both changes', async () => {
    w = await startSlackWorld(mode, { adminUserIds: [ALICE] });
    expect(await settings(w, 'set --channel model claude-sonnet-4-6', BOB)).toMatch(/Only workspace admins and owners/);
    expect(await settings(w, 'set --channel model claude-sonnet-9')).toMatch(/`claude-sonnet-9` is not a model the Messages API offers. Some that are: `claude-sonnet/);
    expect(await settings(w, 'set --channel roles 123456789012345678')).toMatch(/`roles` is a Discord setting/);
    expect(await settings(w, 'set --channel model claude-sonnet-4-6')).toMatch(/Channel `model` set to claude-sonnet-4-6/);
    expect(await settings(w, 'set --channel prompts Summarize this channel | Draft a reply')).toMatch(/Channel `prompts` set to “Summarize this channel” \| “Draft a reply”/);
    expect(await settings(w, 'frobnicate')).toMatch(/^Usage: `\/settings show`, `\/settings set \[--channel\] <key> <value>`/);
    await mention(w, 'in general');
    await w.h.anthropic.waitForRequests(1);
    await mention(w, 'in random', RANDOM);
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const modelOf = (text: string) => bodies(w!).find((body) => JSON.stringify(body.messages).includes(text))?.model;
    expect(modelOf('in general')).toBe('claude-sonnet-4-6');
    expect(modelOf('in random')).toBe('claude-opus-4-8');
    const shown = await settings(w, 'show');
    expect(shown).toMatch(/`model`: `claude-sonnet-4-6` \(channel, set by Alice Liddell/);
    expect(shown).toMatch(/`prompts`: “Summarize this channel” \| “Draft a reply” \(channel/);
    expect(shown).not.toMatch(/`roles`/);
    expect(await settings(w, 'show', ALICE, RANDOM)).toMatch(/`model`: `claude-opus-4-8` \(default \(ANTHROPIC_MODEL\)\)/);
    expect(await settings(w, 'history --channel')).toMatch(/Last 2 changes[\s\S]*Alice Liddell set `prompts`[\s\S]*Alice Liddell set `model`: \(inherited\) → claude-sonnet-4-6/);
  });

  it('answers off: one short reply in the thread, no model request; commands still work', async () => {
    w = await startSlackWorld(mode, { adminUserIds: [ALICE] });
    expect(await settings(w, 'set answers off')).toMatch(/Workspace `answers` set to off/);
    const asked = await mention(w, 'hello?');
    await w.slack.calls.waitFor((c) => c.method === 'chat.postMessage' || c.method === 'chat.update' || c.method === 'chat.stopStream', 'the refusal');
    await w.h.core.idle();
    expect(w.slack.botMessages(GENERAL, asked.ts).map((m) => m.text)).toEqual([expect.stringMatching(/turned off here/)]);
    expect(w.h.anthropic.messageRequests()).toHaveLength(0);
    expect(await settings(w, 'set --channel answers on')).toMatch(/Channel `answers` set to on/);
    await mention(w, 'and now?');
    await w.h.anthropic.waitForRequests(1);
  });
});

describe('a Slack thread switching models mid-way', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('from Opus 4.8 (mid-conversation system messages) to Sonnet 4.6 stays valid', async () => {
    w = await startSlackWorld('http', { adminUserIds: [ALICE], model: 'claude-opus-4-8' });
    const parent = await mention(w, 'first');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const payload = w.slack.slashCommand('/instructions', 'set Answer only in French.', ALICE);
    await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
    await w.slack.responses.waitFor((r) => payload.response_url!.endsWith(r.id), 'instructions set');
    await w.replyInThread(parent.ts, ALICE, 'second');
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    expect(bodies(w)[1]?.messages.map((m) => m.role)).toContain('system');
    expect(await settings(w, 'set model claude-sonnet-4-6')).toMatch(/set to claude-sonnet-4-6/);
    await w.replyInThread(parent.ts, ALICE, 'third');
    await w.h.anthropic.waitForRequests(3);
    await w.h.core.idle();
    const third = w.h.anthropic.messageRequests()[2]!;
    expect(third.status).toBe(200);
    const body = third.body as unknown as Body;
    expect(body.model).toBe('claude-sonnet-4-6');
    expect(body.messages.some((m) => m.role === 'system')).toBe(false);
    expect(body.system[0]?.text).toContain('Answer only in French.');
    // And back: Opus 4.8 again, still valid.
    expect(await settings(w, 'clear model')).toMatch(/cleared. Here it is now `claude-opus-4-8`/);
    await w.replyInThread(parent.ts, ALICE, 'fourth');
    await w.h.anthropic.waitForRequests(4);
    expect(w.h.anthropic.messageRequests()[3]?.status).toBe(200);
  });
});
