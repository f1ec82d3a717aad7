/**
 * Effective settings: a channel value overrides the server/workspace value of the same key,
 * which overrides the default from the environment. Pure, so it is table-tested.
 */
import type { SettingChange } from '../../store/types.js';
import { parseFlag, splitPrompts, splitRoles, type SettingKey } from './keys.js';

export type SettingSource = 'default' | 'workspace' | 'channel';

export interface Sourced<T> {
  readonly value: T;
  readonly source: SettingSource;
  /** The change that set it (absent for defaults). */
  readonly change?: SettingChange;
}

/** What applies in one channel. Other features read this through `SettingsService.effective`. */
export interface EffectiveSettings {
  readonly model: Sourced<string>;
  readonly webSearch: Sourced<boolean>;
  readonly webFetch: Sourced<boolean>;
  /** false: the bot only answers that it is turned off here. */
  readonly answers: Sourced<boolean>;
  /** Discord role ids allowed to get answers; empty: everyone. */
  readonly roles: Sourced<readonly string[]>;
  /** Slack assistant panel suggested prompts; empty: none set. */
  readonly prompts: Sourced<readonly string[]>;
}

export interface SettingDefaults {
  readonly model: string;
  readonly webSearch: boolean;
  readonly webFetch: boolean;
}

export function resolveSettings(
  defaults: SettingDefaults,
  workspace: ReadonlyMap<string, SettingChange>,
  channel: ReadonlyMap<string, SettingChange>,
): EffectiveSettings {
  const pick = <T>(key: SettingKey, fallback: T, parse: (stored: string) => T | undefined): Sourced<T> => {
    for (const [source, scope] of [['channel', channel], ['workspace', workspace]] as const) {
      const change = scope.get(key);
      if (change === undefined || change.value === null) continue;
      const value = parse(change.value);
      // A stored value this version cannot read (written by a newer one) falls through.
      if (value !== undefined) return { value, source, change };
    }
    return { value: fallback, source: 'default' };
  };
  return {
    model: pick('model', defaults.model, (stored) => (stored === '' ? undefined : stored)),
    webSearch: pick('web_search', defaults.webSearch, parseFlag),
    webFetch: pick('web_fetch', defaults.webFetch, parseFlag),
    answers: pick('answers', true, parseFlag),
    roles: pick('roles', [] as readonly string[], splitRoles),
    prompts: pick('prompts', [] as readonly string[], splitPrompts),
  };
}

/** How the stored value of a key reads in `show` and `history`. */
export function describeStored(key: SettingKey, stored: string | null | undefined): string {
  if (stored === null || stored === undefined) return '(inherited)';
  if (key === 'roles') return stored === '' ? 'everyone' : splitRoles(stored).map((id) => `<@&${id}>`).join(' ');
  if (key === 'prompts') return splitPrompts(stored).map((prompt) => `“${prompt}”`).join(' | ');
  return stored;
}
