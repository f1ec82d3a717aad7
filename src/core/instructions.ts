/**
 * `/instructions` behind both platforms' slash commands: validation, storage, and the answer
 * text. Adapters parse the platform's command, decide whether the caller is an admin from
 * platform facts, and show the reply ephemerally; everything else happens here.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { InstructionChange } from '../store/types.js';
import type { Platform } from './types.js';

export const MAX_INSTRUCTIONS_CHARS = 8000;
const HISTORY_LENGTH = 10;

export type InstructionsAction = 'set' | 'show' | 'clear' | 'history';
export type InstructionsScope = 'workspace' | 'channel';

export interface InstructionsCommand {
  readonly platform: Platform;
  readonly workspaceId: string;
  /** The channel whose scope applies (Discord threads: the parent channel). */
  readonly channelId: string;
  readonly actor: { readonly id: string; readonly name: string; readonly isAdmin: boolean };
  readonly action: InstructionsAction;
  readonly scope: InstructionsScope;
  readonly text?: string;
}

export interface CommandReply {
  readonly ok: boolean;
  readonly text: string;
}

export const WORKSPACE_NOUN: Record<Platform, string> = { discord: 'server', slack: 'workspace', web: 'workspace' };
export const ADMIN_RULE: Record<Platform, string> = {
  discord: 'members with the Manage Server permission',
  slack: 'workspace admins and owners (and the users listed in SLACK_ADMIN_USER_IDS)',
  web: 'playground participants',
};

export function usage(platform: Platform): string {
  return platform === 'discord'
    ? 'Usage: `/instructions set text:<text> [scope:server|channel]`, `/instructions show`, `/instructions clear [scope:server|channel]`, `/instructions history [scope:server|channel]`.'
    : 'Usage: `/instructions set [--channel] <text>`, `/instructions show`, `/instructions clear [--channel]`, `/instructions history [--channel]`.';
}

export class InstructionsService {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async run(command: InstructionsCommand): Promise<CommandReply> {
    const log = this.logger.child({ platform: command.platform, workspace: command.workspaceId, channel: command.channelId, user: command.actor.id, action: command.action });
    if (!command.actor.isAdmin) {
      log.warn('refused /instructions from a non-admin');
      return { ok: false, text: `Only ${ADMIN_RULE[command.platform]} can use /instructions.` };
    }
    // Replicas: show and clear start from what any of them committed.
    await this.store.syncCaches();
    const channelKey = command.scope === 'channel' ? command.channelId : '';
    const label = command.scope === 'channel' ? 'Channel' : capitalize(WORKSPACE_NOUN[command.platform]);
    switch (command.action) {
      case 'set': {
        const text = (command.text ?? '').trim();
        if (text === '') return { ok: false, text: `The instructions text is empty. ${usage(command.platform)}` };
        if (text.length > MAX_INSTRUCTIONS_CHARS) {
          return { ok: false, text: `Instructions can be at most ${MAX_INSTRUCTIONS_CHARS} characters; these are ${text.length}. Shorten them and try again.` };
        }
        await this.store.instructions.record(command.platform, command.workspaceId, channelKey, text, command.actor, this.now());
        log.info({ scope: command.scope, chars: text.length }, 'instructions set');
        return { ok: true, text: `${label} instructions set (${text.length} characters). They apply from the next reply in every thread.` };
      }
      case 'clear': {
        const current = await this.store.instructions.current(command.platform, command.workspaceId, channelKey);
        if (current?.text === null || current === undefined) return { ok: true, text: `There are no ${label.toLowerCase()} instructions to clear.` };
        await this.store.instructions.record(command.platform, command.workspaceId, channelKey, null, command.actor, this.now());
        log.info({ scope: command.scope }, 'instructions cleared');
        return { ok: true, text: `${label} instructions cleared. The next reply in every thread follows the change.` };
      }
      case 'show':
        return { ok: true, text: await this.show(command) };
      case 'history':
        return { ok: true, text: await this.history(command, channelKey, label) };
      default:
        return { ok: false, text: usage(command.platform) };
    }
  }

  private async show(command: InstructionsCommand): Promise<string> {
    const noun = WORKSPACE_NOUN[command.platform];
    const workspace = await this.store.instructions.current(command.platform, command.workspaceId, '');
    const channel = await this.store.instructions.current(command.platform, command.workspaceId, command.channelId);
    return [describeCurrent(`${capitalize(noun)} instructions`, workspace), describeCurrent('Channel instructions', channel)].join('\n\n');
  }

  private async history(command: InstructionsCommand, channelKey: string, label: string): Promise<string> {
    const changes = await this.store.instructions.history(command.platform, command.workspaceId, channelKey, HISTORY_LENGTH + 1);
    if (changes.length === 0) return `No changes to the ${label.toLowerCase()} instructions yet.`;
    const lines = changes.slice(0, HISTORY_LENGTH).map((change, index) => {
      const previous = changes[index + 1];
      const before = previous?.text ?? null;
      const verb = change.text === null ? 'cleared' : before === null ? 'set' : 'changed';
      return `• ${formatTime(change.createdAt)}: ${change.authorName} ${verb}: ${quote(before)} → ${quote(change.text)}`;
    });
    return `Last ${lines.length} change${lines.length === 1 ? '' : 's'} to the ${label.toLowerCase()} instructions, newest first:\n${lines.join('\n')}`;
  }
}

function describeCurrent(title: string, change: InstructionChange | undefined): string {
  if (change === undefined || change.text === null) return `${title}: none.`;
  return `${title} (set by ${change.authorName}, ${formatTime(change.createdAt)}):\n${change.text
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n')}`;
}

function quote(text: string | null): string {
  if (text === null) return '(none)';
  const flat = text.replace(/\s+/g, ' ');
  return `“${flat.length > 120 ? `${flat.slice(0, 117)}…` : flat}”`;
}

export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
