/**
 * Slack `/settings`: `show`, `set [--channel] <key> <value>`, `clear [--channel] <key>`,
 * `history [--channel]`. Parsing only; the core checks and stores.
 */
import { settingsUsage, type SettingsAction, type SettingsScope } from '../../core/settings/service.js';
import type { ChatCore } from '../../core/types.js';

export type ParsedSettings =
  | { readonly kind: 'command'; readonly action: SettingsAction; readonly scope: SettingsScope; readonly key?: string; readonly value?: string }
  | { readonly kind: 'usage' };

export function parseSettingsText(raw: string): ParsedSettings {
  const match = /^(\S+)(?:\s+(--channel)\b)?\s*([\s\S]*)$/.exec(decodeEntities(raw).trim());
  if (match === null) return { kind: 'usage' };
  const action = (match[1] ?? '').toLowerCase();
  if (!['show', 'set', 'clear', 'history'].includes(action)) return { kind: 'usage' };
  const scope: SettingsScope = match[2] === undefined ? 'workspace' : 'channel';
  const rest = (match[3] ?? '').trim();
  if (action === 'show' || action === 'history') return { kind: 'command', action, scope };
  const [, key, value] = /^(\S*)\s*([\s\S]*)$/.exec(rest) ?? [];
  return {
    kind: 'command',
    action: action as SettingsAction,
    scope,
    ...(key === undefined || key === '' ? {} : { key }),
    ...(action === 'set' ? { value: value ?? '' } : {}),
  };
}

export async function runSlackSettings(
  core: ChatCore,
  text: string,
  where: { readonly workspaceId: string; readonly channelId: string },
  actor: () => Promise<{ id: string; name: string; isAdmin: boolean }>,
): Promise<string> {
  const parsed = parseSettingsText(text);
  if (parsed.kind === 'usage') return settingsUsage('slack');
  const { kind: _kind, ...command } = parsed;
  const reply = await core.runSettingsCommand({ platform: 'slack', ...where, actor: await actor(), ...command });
  return reply.text;
}

/** Slash command text arrives with &, < and > escaped. */
function decodeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
