/**
 * The `/settings` keys, what each accepts, and how a typed value is checked and normalized
 * before it is stored. Pure: the model id is checked against the Messages API's list elsewhere
 * (model-catalog.ts), everything else here.
 */
import type { Platform } from '../types.js';

export const SETTING_KEYS = ['model', 'web_search', 'web_fetch', 'answers', 'roles', 'prompts'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** Keys that mean something on one platform only. */
const ONLY_ON: Partial<Record<SettingKey, Platform>> = { roles: 'discord', prompts: 'slack' };

/** The Slack assistant panel shows at most four suggested prompts. */
export const MAX_PROMPTS = 4;
export const MAX_PROMPT_CHARS = 300;
export const MAX_ROLES = 25;

export const KEY_HELP: Record<SettingKey, string> = {
  model: 'a model id the Messages API lists, e.g. claude-opus-4-8',
  web_search: '`on` or `off`',
  web_fetch: '`on` or `off`',
  answers: '`on` or `off` (off: the bot only says it is turned off here)',
  roles: 'role ids or @role mentions allowed to get answers (`everyone` for no restriction)',
  prompts: `up to ${MAX_PROMPTS} suggested prompts for the assistant panel, separated by \`|\``,
};

/** The keys an admin can set on this platform, in display order. */
export function keysFor(platform: Platform): SettingKey[] {
  return SETTING_KEYS.filter((key) => (ONLY_ON[key] ?? platform) === platform);
}

export function isSettingKey(raw: string): raw is SettingKey {
  return (SETTING_KEYS as readonly string[]).includes(raw);
}

export type CheckedKey = { readonly ok: true; readonly key: SettingKey } | { readonly ok: false; readonly error: string };

export function checkKey(raw: string | undefined, platform: Platform): CheckedKey {
  const name = (raw ?? '').trim().toLowerCase();
  const valid = keysFor(platform).map((key) => `\`${key}\``).join(', ');
  if (name === '') return { ok: false, error: `Name a key: ${valid}.` };
  if (!isSettingKey(name)) return { ok: false, error: `There is no setting \`${name}\`. Keys: ${valid}.` };
  const only = ONLY_ON[name];
  if (only !== undefined && only !== platform) {
    return { ok: false, error: `\`${name}\` is a ${only === 'discord' ? 'Discord' : 'Slack'} setting; it does nothing here. Keys: ${valid}.` };
  }
  return { ok: true, key: name };
}

export type CheckedValue = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly error: string };

export interface ValueContext {
  /** Discord: the server's role ids, when the adapter knows them; unknown ids are refused. */
  readonly knownRoleIds?: ReadonlySet<string>;
}

/**
 * The stored form of a typed value, or why it is refused. `model` is only checked for shape
 * here; whether the API offers it is the catalog's question.
 */
export function checkValue(key: SettingKey, raw: string | undefined, context: ValueContext = {}): CheckedValue {
  const text = (raw ?? '').trim();
  switch (key) {
    case 'web_search':
    case 'web_fetch':
    case 'answers': {
      const flag = parseFlag(text);
      return flag === undefined ? { ok: false, error: `\`${key}\` is \`on\` or \`off\`, not ${shown(text)}.` } : { ok: true, value: flag ? 'on' : 'off' };
    }
    case 'model':
      if (!/^[a-z0-9][a-z0-9.:@_-]{1,99}$/i.test(text)) return { ok: false, error: `${shown(text)} is not a model id. Use one the Messages API lists, e.g. \`claude-opus-4-8\`.` };
      return { ok: true, value: text };
    case 'roles':
      return checkRoles(text, context.knownRoleIds);
    case 'prompts':
      return checkPrompts(text);
  }
}

function checkRoles(text: string, known: ReadonlySet<string> | undefined): CheckedValue {
  if (/^(everyone|@everyone|all|none)?$/i.test(text)) return { ok: true, value: '' };
  const ids: string[] = [];
  for (const token of text.split(/[\s,]+/).filter((part) => part !== '')) {
    const id = /^(?:<@&(\d{5,25})>|(\d{5,25}))$/.exec(token);
    if (id === null) return { ok: false, error: `${shown(token)} is not a role: give role ids or @role mentions, separated by spaces or commas (or \`everyone\`).` };
    const roleId = (id[1] ?? id[2]) as string;
    if (known !== undefined && !known.has(roleId)) return { ok: false, error: `There is no role with id ${roleId} in this server.` };
    if (!ids.includes(roleId)) ids.push(roleId);
  }
  if (ids.length > MAX_ROLES) return { ok: false, error: `At most ${MAX_ROLES} roles; these are ${ids.length}.` };
  return { ok: true, value: ids.join(',') };
}

function checkPrompts(text: string): CheckedValue {
  const prompts = splitPrompts(text);
  if (prompts.length === 0) return { ok: false, error: 'Give at least one prompt; separate several with `|`, e.g. `Summarize this channel | Draft a reply`.' };
  if (prompts.length > MAX_PROMPTS) return { ok: false, error: `Slack shows at most ${MAX_PROMPTS} suggested prompts; these are ${prompts.length}.` };
  const long = prompts.find((prompt) => prompt.length > MAX_PROMPT_CHARS);
  if (long !== undefined) return { ok: false, error: `Each prompt can be at most ${MAX_PROMPT_CHARS} characters; ${shown(long.slice(0, 40))}… is ${long.length}.` };
  return { ok: true, value: prompts.join(' | ') };
}

export function splitPrompts(stored: string): string[] {
  return stored
    .split('|')
    .map((prompt) => prompt.replace(/\s+/g, ' ').trim())
    .filter((prompt) => prompt !== '');
}

export function splitRoles(stored: string): string[] {
  return stored.split(',').filter((id) => id !== '');
}

export function parseFlag(text: string): boolean | undefined {
  if (/^(on|true|yes|enabled?|1)$/i.test(text)) return true;
  if (/^(off|false|no|disabled?|0)$/i.test(text)) return false;
  return undefined;
}

function shown(text: string): string {
  return text === '' ? 'empty' : `\`${text.replace(/`/g, "'").slice(0, 100)}\``;
}
