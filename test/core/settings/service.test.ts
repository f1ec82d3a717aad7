/** /settings through the core on a real store and the fake Messages API's model list. */
import { afterEach, describe, expect, it } from 'vitest';
import type { SettingsCommand } from '../../../src/core/settings/service.js';
import { Store } from '../../../src/store/index.js';
import { createCoreHarness, type Harness } from '../../helpers/harness.js';

const admin = { id: 'U1', name: 'Alice', isAdmin: true };
const base = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', actor: admin, scope: 'workspace' } as const;

describe('SettingsService', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const run = async (command: Partial<SettingsCommand> & Pick<SettingsCommand, 'action'>) => (await h!.core.runSettingsCommand({ ...base, ...command })).text;
  const modelListRequests = () => h!.anthropic.requests.filter((r) => r.path.startsWith('/v1/models')).length;

  it('resolves a channel once until a setting of its workspace or channel changes (every reply reads them twice)', async () => {
    h = await createCoreHarness();
    const first = await h.core.settings.effective('slack', 'T1', 'C1');
    expect(await h.core.settings.effective('slack', 'T1', 'C1')).toBe(first);
    await run({ action: 'set', key: 'web_search', value: 'on', scope: 'channel' });
    const afterChannel = await h.core.settings.effective('slack', 'T1', 'C1');
    expect(afterChannel.webSearch).toMatchObject({ value: true, source: 'channel' });
    await run({ action: 'set', key: 'answers', value: 'off' });
    const afterWorkspace = await h.core.settings.effective('slack', 'T1', 'C1');
    expect(afterWorkspace.answers).toMatchObject({ value: false, source: 'workspace' });
    expect(afterWorkspace.webSearch).toMatchObject({ value: true, source: 'channel' });
    // Another channel of the workspace sees the workspace change, not the first channel's.
    expect((await h.core.settings.effective('slack', 'T1', 'C2')).webSearch).toMatchObject({ value: false, source: 'default' });
    expect((await h.core.settings.effective('slack', 'T1', 'C2')).answers).toMatchObject({ value: false, source: 'workspace' });
  });

  it('shows where each value comes from, overrides key by key, clears back and keeps a history', async () => {
    h = await createCoreHarness({ anthropic: { models: ['claude-opus-4-8', 'claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-unlisted-9'] } });
    expect(await run({ action: 'show' })).toMatch(/`model`: `claude-opus-4-8` \(default \(ANTHROPIC_MODEL\)\)[\s\S]*`web_search`: off \(default \(WEB_SEARCH\)\)[\s\S]*`web_fetch`: on[\s\S]*`answers`: on[\s\S]*`prompts`: none/);
    expect(await run({ action: 'set', key: 'model', value: 'claude-sonnet-4-6' })).toMatch(/Workspace `model` set to claude-sonnet-4-6/);
    expect(await run({ action: 'set', key: 'answers', value: 'off', scope: 'channel' })).toMatch(/Channel `answers` set to off/);
    const shown = await run({ action: 'show' });
    expect(shown).toMatch(/`model`: `claude-sonnet-4-6` \(workspace, set by Alice \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);
    expect(shown).toMatch(/`answers`: off \(channel, set by Alice/);
    expect((await h.core.settings.effective('slack', 'T1', 'C2')).answers).toEqual({ value: true, source: 'default' });
    expect(await run({ action: 'clear', key: 'answers', scope: 'channel' })).toMatch(/Channel `answers` cleared. Here it is now on \(default\)/);
    expect(await run({ action: 'clear', key: 'answers', scope: 'channel' })).toMatch(/not set; nothing to clear/);
    expect(await run({ action: 'history', scope: 'channel' })).toMatch(/Alice cleared `answers`: off → \(inherited\)[\s\S]*Alice set `answers`: \(inherited\) → off/);
    expect(await run({ action: 'history' })).toMatch(/Last 1 change to the workspace settings[\s\S]*set `model`: \(inherited\) → claude-sonnet-4-6/);
    expect(await run({ action: 'set', key: 'prompts', value: 'Summarize | Draft', scope: 'channel' })).toMatch(/set to “Summarize” \| “Draft”/);
    expect((await h.core.settings.effective('slack', 'T1', 'C1')).prompts.value).toEqual(['Summarize', 'Draft']);
    // Written through the cache and to disk: a fresh store reads the same.
    const fresh = Store.over(h.store.executor);
    expect([...(await fresh.settings.current('slack', 'T1', 'C1')).values()].map((c) => [c.key, c.value])).toEqual([
      ['answers', null],
      ['prompts', 'Summarize | Draft'],
    ]);
  });

  it('accepts only models the API lists, naming the refused id and some valid ones; asks for the list once', async () => {
    h = await createCoreHarness({ anthropic: { models: ['claude-opus-4-8', 'claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-unlisted-9'] } });
    const refused = await run({ action: 'set', key: 'model', value: 'claude-sonnet-9' });
    expect(refused).toMatch(/`claude-sonnet-9` is not a model the Messages API offers. Some that are: `claude-sonnet-4-6`/);
    expect(await run({ action: 'set', key: 'model', value: 'claude-opus-4-5' })).toMatch(/`claude-opus-4-5` is not a model[\s\S]*`claude-opus-4-8`/);
    expect(await run({ action: 'set', key: 'model', value: 'claude-unlisted-9' })).toMatch(/set to claude-unlisted-9[\s\S]*most conservative rules/);
    expect(await h.core.settingValueChoices('slack', 'model', 'claude-h')).toEqual(['claude-haiku-4-5']);
    expect(await h.core.settingValueChoices('slack', 'answers', 'o')).toEqual(['on', 'off']);
    expect(modelListRequests()).toBe(1);
  });

  it('pages through a long model list', async () => {
    const models = Array.from({ length: 130 }, (_, i) => `claude-test-${i}`);
    h = await createCoreHarness({ anthropic: { models: [...models, 'claude-sonnet-4-6'] } });
    expect(await run({ action: 'set', key: 'model', value: 'claude-sonnet-4-6' })).toMatch(/set to claude-sonnet-4-6/);
    expect(modelListRequests()).toBe(2);
  });

  it('refuses non-admins and bad input with a clear message, storing nothing', async () => {
    h = await createCoreHarness();
    expect(await run({ action: 'set', key: 'answers', value: 'off', actor: { ...admin, isAdmin: false } })).toMatch(/Only workspace admins and owners/);
    expect(await run({ action: 'show', actor: { ...admin, isAdmin: false } })).toMatch(/Only workspace admins/);
    expect(await run({ action: 'set', key: 'colour', value: 'blue' })).toMatch(/There is no setting `colour`/);
    expect(await run({ action: 'set', key: 'roles', value: '123456789012345678' })).toMatch(/`roles` is a Discord setting/);
    expect(await run({ action: 'set', key: 'web_search', value: 'maybe' })).toMatch(/`web_search` is `on` or `off`, not `maybe`/);
    expect(await run({ action: 'history' })).toMatch(/No changes to the workspace settings yet/);
  });
});
