/**
 * `/settings` behind both platforms' slash commands, and the effective settings every reply
 * reads. Adapters parse the platform's command, decide from platform facts whether the caller is
 * an admin, and show the reply ephemerally; validation, storage and the answer text live here.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import { ADMIN_RULE, WORKSPACE_NOUN, capitalize, formatTime, type CommandReply } from '../instructions.js';
import { modelRules } from '../models.js';
import type { Platform } from '../types.js';
import { KEY_HELP, checkKey, checkValue, keysFor, type SettingKey } from './keys.js';
import { matchingModels, type ModelCatalog } from './model-catalog.js';
import type { SettingChange } from '../../store/types.js';
import { describeStored, resolveSettings, type EffectiveSettings, type SettingDefaults, type Sourced } from './resolve.js';

const HISTORY_LENGTH = 10;
const SUGGESTED_MODELS = 5;
const AUTOCOMPLETE_LIMIT = 25;

export type SettingsAction = 'show' | 'set' | 'clear' | 'history';
export type SettingsScope = 'workspace' | 'channel';

export interface SettingsCommand {
  readonly platform: Platform;
  readonly workspaceId: string;
  /** The channel whose scope applies (Discord threads: the parent channel). */
  readonly channelId: string;
  readonly actor: { readonly id: string; readonly name: string; readonly isAdmin: boolean };
  readonly action: SettingsAction;
  readonly scope: SettingsScope;
  readonly key?: string;
  readonly value?: string;
  /** Discord: the server's role ids, so `roles` can refuse ids that name no role. */
  readonly knownRoleIds?: ReadonlySet<string>;
}

export function settingsUsage(platform: Platform): string {
  const keys = keysFor(platform).map((key) => `\`${key}\``).join(', ');
  return platform === 'discord'
    ? `Usage: \`/settings show\`, \`/settings set key:<key> value:<value> [scope:server|channel]\`, \`/settings clear key:<key> [scope:server|channel]\`, \`/settings history [scope:server|channel]\`. Keys: ${keys}.`
    : `Usage: \`/settings show\`, \`/settings set [--channel] <key> <value>\`, \`/settings clear [--channel] <key>\`, \`/settings history [--channel]\`. Keys: ${keys}.`;
}

/** Where each default comes from, for `show`. */
const DEFAULT_ORIGIN: Record<SettingKey, string> = {
  model: 'default (ANTHROPIC_MODEL)',
  web_search: 'default (WEB_SEARCH)',
  web_fetch: 'default (WEB_FETCH)',
  answers: 'default',
  roles: 'default',
  prompts: 'default',
};

export interface SettingsServiceOptions {
  readonly store: Store;
  readonly catalog: ModelCatalog;
  readonly defaults: SettingDefaults;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class SettingsService {
  private readonly store: Store;
  private readonly now: () => number;
  /**
   * Resolved settings by the scopes' change maps. The store replaces a scope's map when it
   * changes (never edits it), so the same two maps resolve to the same settings: intake and
   * answering both read them per reply, and only the first resolves.
   */
  private readonly resolved = new WeakMap<ReadonlyMap<string, SettingChange>, WeakMap<ReadonlyMap<string, SettingChange>, EffectiveSettings>>();

  constructor(private readonly options: SettingsServiceOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
  }

  /**
   * What applies in a channel (Discord threads: pass the parent channel), each value with where
   * it comes from. Served from memory (after a scope's first read): every reply may call it.
   */
  async effective(platform: Platform, workspaceId: string, channelId: string): Promise<EffectiveSettings> {
    const workspace = await this.store.settings.current(platform, workspaceId, '');
    const channel = await this.store.settings.current(platform, workspaceId, channelId);
    let byChannel = this.resolved.get(workspace);
    if (byChannel === undefined) this.resolved.set(workspace, (byChannel = new WeakMap()));
    let settings = byChannel.get(channel);
    if (settings === undefined) byChannel.set(channel, (settings = resolveSettings(this.options.defaults, workspace, channel)));
    return settings;
  }

  async run(command: SettingsCommand): Promise<CommandReply> {
    const log = this.options.logger.child({ platform: command.platform, workspace: command.workspaceId, channel: command.channelId, user: command.actor.id, action: command.action });
    if (!command.actor.isAdmin) {
      log.warn('refused /settings from a non-admin');
      return { ok: false, text: `Only ${ADMIN_RULE[command.platform]} can use /settings.` };
    }
    // Replicas: show and clear start from what any of them committed.
    await this.store.syncCaches();
    switch (command.action) {
      case 'show':
        return { ok: true, text: await this.show(command) };
      case 'history':
        return { ok: true, text: await this.history(command) };
      case 'set':
        return this.set(command, log);
      case 'clear':
        return this.clear(command, log);
      default:
        return { ok: false, text: settingsUsage(command.platform) };
    }
  }

  /** Autocomplete for `value`: model ids the API lists that match what was typed, or on/off. */
  async valueChoices(platform: Platform, key: string | undefined, typed: string): Promise<string[]> {
    const checked = checkKey(key, platform);
    if (!checked.ok) return [];
    if (checked.key === 'model') {
      const list = await this.options.catalog.list();
      return list.ok ? matchingModels(list.ids, typed, AUTOCOMPLETE_LIMIT) : [];
    }
    if (checked.key === 'answers' || checked.key === 'web_search' || checked.key === 'web_fetch') return ['on', 'off'].filter((flag) => flag.startsWith(typed.trim().toLowerCase()));
    if (checked.key === 'roles' && typed.trim() === '') return ['everyone'];
    return [];
  }

  private async set(command: SettingsCommand, log: Logger): Promise<CommandReply> {
    const key = checkKey(command.key, command.platform);
    if (!key.ok) return { ok: false, text: key.error };
    const value = checkValue(key.key, command.value, command.knownRoleIds === undefined ? {} : { knownRoleIds: command.knownRoleIds });
    if (!value.ok) return { ok: false, text: `${value.error}\n\`${key.key}\`: ${KEY_HELP[key.key]}.` };
    let note = '';
    if (key.key === 'model') {
      const list = await this.options.catalog.list();
      if (!list.ok) return { ok: false, text: list.error };
      if (!list.ids.includes(value.value)) {
        const similar = matchingModels(list.ids, value.value.replace(/-[^-]*$/, ''), SUGGESTED_MODELS);
        const hint = (similar.length > 0 ? similar : list.ids.slice(0, SUGGESTED_MODELS)).map((id) => `\`${id}\``).join(', ');
        return { ok: false, text: `\`${value.value}\` is not a model the Messages API offers. Some that are: ${hint}.` };
      }
      if (!modelRules(value.value).known) note = ' I do not know its limits yet, so requests to it follow the most conservative rules.';
    }
    const channelKey = command.scope === 'channel' ? command.channelId : '';
    await this.store.settings.record(command.platform, command.workspaceId, channelKey, key.key, value.value, command.actor, this.now());
    log.info({ scope: command.scope, key: key.key, value: value.value }, 'setting changed');
    return { ok: true, text: `${this.scopeLabel(command)} \`${key.key}\` set to ${describeStored(key.key, value.value)}. It applies from the next reply in every thread.${note}${await this.overriddenNote(command, key.key)}` };
  }

  private async clear(command: SettingsCommand, log: Logger): Promise<CommandReply> {
    const key = checkKey(command.key, command.platform);
    if (!key.ok) return { ok: false, text: key.error };
    const channelKey = command.scope === 'channel' ? command.channelId : '';
    const label = this.scopeLabel(command);
    const current = (await this.store.settings.current(command.platform, command.workspaceId, channelKey)).get(key.key);
    if (current === undefined || current.value === null) return { ok: true, text: `${label} \`${key.key}\` is not set; nothing to clear.` };
    await this.store.settings.record(command.platform, command.workspaceId, channelKey, key.key, null, command.actor, this.now());
    log.info({ scope: command.scope, key: key.key }, 'setting cleared');
    const now = this.entry(key.key, await this.effective(command.platform, command.workspaceId, command.channelId));
    return { ok: true, text: `${label} \`${key.key}\` cleared. Here it is now ${now.shown} (${this.origin(key.key, now.sourced, command.platform)}).${await this.overriddenNote(command, key.key)}` };
  }

  private async show(command: SettingsCommand): Promise<string> {
    const effective = await this.effective(command.platform, command.workspaceId, command.channelId);
    const lines = keysFor(command.platform).map((key) => {
      const { shown, sourced } = this.entry(key, effective);
      return `• \`${key}\`: ${shown} (${this.origin(key, sourced, command.platform)})`;
    });
    const noun = WORKSPACE_NOUN[command.platform];
    return `Settings in this channel (a channel value overrides the ${noun} value):\n${lines.join('\n')}`;
  }

  private async history(command: SettingsCommand): Promise<string> {
    const channelKey = command.scope === 'channel' ? command.channelId : '';
    const what = `${this.scopeLabel(command).toLowerCase()} settings`;
    const changes = await this.store.settings.history(command.platform, command.workspaceId, channelKey, HISTORY_LENGTH);
    if (changes.length === 0) return `No changes to the ${what} yet.`;
    const lines = changes.map((change) => {
      const key = change.key as SettingKey;
      const verb = change.value === null ? 'cleared' : 'set';
      return `• ${formatTime(change.createdAt)}: ${change.authorName} ${verb} \`${change.key}\`: ${describeStored(key, change.previous)} → ${describeStored(key, change.value)}`;
    });
    return `Last ${lines.length} change${lines.length === 1 ? '' : 's'} to the ${what}, newest first:\n${lines.join('\n')}`;
  }

  private entry(key: SettingKey, effective: EffectiveSettings): { shown: string; sourced: Sourced<unknown> } {
    switch (key) {
      case 'model':
        return { shown: `\`${effective.model.value}\``, sourced: effective.model };
      case 'web_search':
        return { shown: onOff(effective.webSearch.value), sourced: effective.webSearch };
      case 'web_fetch':
        return { shown: onOff(effective.webFetch.value), sourced: effective.webFetch };
      case 'answers':
        return { shown: onOff(effective.answers.value), sourced: effective.answers };
      case 'roles':
        return { shown: effective.roles.value.length === 0 ? 'everyone' : effective.roles.value.map((id) => `<@&${id}>`).join(' '), sourced: effective.roles };
      case 'prompts':
        return { shown: effective.prompts.value.length === 0 ? 'none' : effective.prompts.value.map((prompt) => `“${prompt}”`).join(' | '), sourced: effective.prompts };
    }
  }

  private origin(key: SettingKey, sourced: Sourced<unknown>, platform: Platform): string {
    if (sourced.source === 'default' || sourced.change === undefined) return DEFAULT_ORIGIN[key];
    const where = sourced.source === 'channel' ? 'channel' : WORKSPACE_NOUN[platform];
    return `${where}, set by ${sourced.change.authorName} ${formatTime(sourced.change.createdAt)}`;
  }

  private scopeLabel(command: SettingsCommand): string {
    return command.scope === 'channel' ? 'Channel' : capitalize(WORKSPACE_NOUN[command.platform]);
  }

  /** A server-wide change that this channel does not see, because the channel sets the key itself. */
  private async overriddenNote(command: SettingsCommand, key: SettingKey): Promise<string> {
    if (command.scope === 'channel') return '';
    const own = (await this.store.settings.current(command.platform, command.workspaceId, command.channelId)).get(key);
    return own === undefined || own.value === null ? '' : ` This channel keeps its own value (${describeStored(key, own.value)}).`;
  }
}

function onOff(flag: boolean): string {
  return flag ? 'on' : 'off';
}
