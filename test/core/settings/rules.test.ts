/** Table tests: /settings key and value checks, effective-value resolution, the answer gate. */
import { describe, expect, it } from 'vitest';
import { answerRefusal } from '../../../src/core/settings/access.js';
import { checkKey, checkValue, keysFor, type SettingKey } from '../../../src/core/settings/keys.js';
import { matchingModels } from '../../../src/core/settings/model-catalog.js';
import { resolveSettings } from '../../../src/core/settings/resolve.js';
import type { SettingChange } from '../../../src/store/types.js';
import type { InboundMessage } from '../../../src/core/types.js';

describe('/settings keys', () => {
  it('offers each platform its keys', () => {
    expect(keysFor('discord')).toEqual(['model', 'web_search', 'web_fetch', 'answers', 'roles']);
    expect(keysFor('slack')).toEqual(['model', 'web_search', 'web_fetch', 'answers', 'prompts']);
  });

  it.each([
    ['discord', 'model', true, ''],
    ['slack', ' Answers ', true, ''],
    ['discord', 'temperature', false, /no setting `temperature`.*Keys: `model`/],
    ['discord', '', false, /Name a key/],
    ['slack', 'roles', false, /`roles` is a Discord setting/],
    ['discord', 'prompts', false, /`prompts` is a Slack setting/],
  ] as const)('%s %j', (platform, raw, ok, error) => {
    const checked = checkKey(raw, platform);
    expect(checked.ok).toBe(ok);
    if (!checked.ok) expect(checked.error).toMatch(error);
  });
});

describe('/settings values', () => {
  const roles = new Set(['111111111111111111', '222222222222222222']);
  it.each<[SettingKey, string, string | RegExp]>([
    ['answers', 'off', 'off'],
    ['answers', 'ON', 'on'],
    ['web_search', 'yes', 'on'],
    ['web_fetch', 'false', 'off'],
    ['web_fetch', 'sometimes', /`web_fetch` is `on` or `off`, not `sometimes`/],
    ['answers', '', /not empty|`answers` is `on` or `off`, not empty/],
    ['model', 'claude-sonnet-4-6', 'claude-sonnet-4-6'],
    ['model', 'claude sonnet', /not a model id/],
    ['roles', '<@&111111111111111111> 222222222222222222', '111111111111111111,222222222222222222'],
    ['roles', '<@&111111111111111111>,<@&111111111111111111>', '111111111111111111'],
    ['roles', 'everyone', ''],
    ['roles', '@moderators', /`@moderators` is not a role/],
    ['roles', '333333333333333333', /no role with id 333333333333333333/],
    ['prompts', 'Summarize this channel | Draft a reply |', 'Summarize this channel | Draft a reply'],
    ['prompts', ' | ', /at least one prompt/],
    ['prompts', 'a|b|c|d|e', /at most 4 suggested prompts; these are 5/],
    ['prompts', 'x'.repeat(301), /at most 300 characters/],
  ])('%s %j', (key, raw, expected) => {
    const checked = checkValue(key, raw, { knownRoleIds: roles });
    if (typeof expected === 'string') expect(checked).toEqual({ ok: true, value: expected });
    else {
      expect(checked.ok).toBe(false);
      if (!checked.ok) expect(checked.error).toMatch(expected);
    }
  });
});

const change = (key: string, value: string | null, channelId = ''): [string, SettingChange] => [
  key,
  { id: 1, channelId, key, value, authorId: 'U1', authorName: 'Alice', createdAt: 0 },
];
const defaults = { model: 'claude-opus-4-8', webSearch: false, webFetch: true };

describe('effective settings', () => {
  it.each([
    ['nothing set: the defaults', [], [], { model: ['claude-opus-4-8', 'default'], webSearch: [false, 'default'], webFetch: [true, 'default'], answers: [true, 'default'] }],
    ['server value', [change('model', 'claude-sonnet-4-6')], [], { model: ['claude-sonnet-4-6', 'workspace'] }],
    ['channel over server', [change('model', 'claude-sonnet-4-6')], [change('model', 'claude-haiku-4-5', 'C1')], { model: ['claude-haiku-4-5', 'channel'] }],
    ['a cleared channel value inherits', [change('answers', 'off')], [change('answers', null, 'C1')], { answers: [false, 'workspace'] }],
    ['key by key', [change('web_search', 'on'), change('web_fetch', 'off')], [change('web_fetch', 'on', 'C1')], { webSearch: [true, 'workspace'], webFetch: [true, 'channel'] }],
    ['channel "everyone" lifts server roles', [change('roles', '1,2')], [change('roles', '', 'C1')], { roles: [[], 'channel'] }],
    ['roles and prompts are lists', [change('roles', '1,2'), change('prompts', 'a | b')], [], { roles: [['1', '2'], 'workspace'], prompts: [['a', 'b'], 'workspace'] }],
    ['an unreadable stored flag falls through', [change('answers', 'off')], [change('answers', 'maybe', 'C1')], { answers: [false, 'workspace'] }],
  ] as const)('%s', (_name, workspace, channel, expected) => {
    const effective = resolveSettings(defaults, new Map(workspace), new Map(channel)) as unknown as Record<string, { value: unknown; source: string }>;
    for (const [key, [value, source]] of Object.entries(expected)) {
      expect(effective[key]?.value).toEqual(value);
      expect(effective[key]?.source).toBe(source);
    }
  });
});

describe('who gets an answer', () => {
  const settings = (answers: boolean, roles: string[]) => ({ answers: { value: answers, source: 'channel' as const }, roles: { value: roles, source: 'workspace' as const } });
  const msg = (platform: 'discord' | 'slack', author: Partial<InboundMessage['author']> = {}) => ({
    thread: { platform, workspaceId: 'G', channelId: 'C', threadKey: 'T' },
    author: { id: 'U', name: 'U', kind: 'user' as const, ...author },
  });
  it.each([
    ['answers on, no roles', settings(true, []), msg('discord'), undefined],
    ['answers off', settings(false, []), msg('discord', { isAdmin: true }), 'answers_off'],
    ['answers off on Slack', settings(false, []), msg('slack'), 'answers_off'],
    ['holds a role', settings(true, ['r1', 'r2']), msg('discord', { roleIds: ['r0', 'r2'] }), undefined],
    ['holds none', settings(true, ['r1']), msg('discord', { roleIds: ['r0'] }), 'not_allowed'],
    ['roles unknown', settings(true, ['r1']), msg('discord'), 'not_allowed'],
    ['admin without the role', settings(true, ['r1']), msg('discord', { roleIds: [], isAdmin: true }), undefined],
    ['roles mean nothing on Slack', settings(true, ['r1']), msg('slack'), undefined],
  ] as const)('%s', (_name, effective, message, code) => {
    const refusal = answerRefusal(effective, message);
    expect(refusal?.code).toBe(code);
    if (refusal?.code === 'not_allowed') expect(refusal.text).not.toMatch(/r1|role/i);
  });
});

describe('model suggestions', () => {
  it.each([
    ['claude-son', ['claude-sonnet-5', 'claude-sonnet-4-6']],
    ['4-6', ['claude-sonnet-4-6', 'claude-opus-4-6']],
    ['', ['claude-sonnet-5', 'claude-sonnet-4-6']],
  ])('%j', (typed, expected) => {
    expect(matchingModels(['claude-sonnet-5', 'claude-sonnet-4-6', 'claude-opus-4-6'], typed, 2)).toEqual(expected);
  });
});
