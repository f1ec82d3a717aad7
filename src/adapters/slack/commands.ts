/**
 * Slack slash commands: `/instructions`, `/settings`, `/usage` and `/forget`. Acked at once (Slack allows
 * 3 s), answered ephemerally, and the caller's admin status checked on every call.
 */
import type { App, RespondFn, SlashCommand, webApi } from '@slack/bolt';

type WebClient = webApi.WebClient;
import type { Logger } from 'pino';
import { usage, type InstructionsAction, type InstructionsScope } from '../../core/instructions.js';
import type { ChatCore, ThreadRef } from '../../core/types.js';
import { runSlackSettings } from './settings-command.js';

const ADMIN_CACHE_MS = 60_000;

export type ParsedInstructions =
  | { readonly kind: 'command'; readonly action: InstructionsAction; readonly scope: InstructionsScope; readonly text: string }
  | { readonly kind: 'usage' };

/** `set [--channel] <text>`, `show`, `clear [--channel]`, `history [--channel]`. */
export function parseInstructionsText(raw: string): ParsedInstructions {
  const trimmed = raw.trim();
  const match = /^(\S+)\s*(--channel\b)?\s*([\s\S]*)$/.exec(trimmed);
  if (match === null) return { kind: 'usage' };
  const action = (match[1] ?? '').toLowerCase();
  if (!['set', 'show', 'clear', 'history'].includes(action)) return { kind: 'usage' };
  return { kind: 'command', action: action as InstructionsAction, scope: match[2] === undefined ? 'workspace' : 'channel', text: match[3] ?? '' };
}

/** A thread permalink (`…/archives/C123/p1700000000123456?thread_ts=…`) → channel and thread ts. */
export function parseThreadLink(raw: string): { channel: string; threadTs: string } | undefined {
  const link = /<([^|>]+)(?:\|[^>]*)?>/.exec(raw)?.[1] ?? raw.trim();
  const match = /\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/.exec(link);
  if (match === null) return undefined;
  let threadTs: string | null = null;
  try {
    threadTs = new URL(link).searchParams.get('thread_ts');
  } catch {
    threadTs = null;
  }
  return { channel: match[1] as string, threadTs: threadTs ?? `${match[2]}.${match[3]}` };
}

interface SlackUserFlags {
  is_admin?: boolean;
  is_owner?: boolean;
  is_primary_owner?: boolean;
  is_restricted?: boolean;
  is_ultra_restricted?: boolean;
  real_name?: string;
  name?: string;
}

/** Workspace admins and owners (never guests), plus an explicit allow-list; users.info cached briefly. */
export class SlackAdmins {
  private readonly cache = new Map<string, { at: number; isAdmin: boolean; name: string }>();

  constructor(
    private readonly client: WebClient,
    private readonly allowList: readonly string[],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async check(userId: string, fallbackName: string): Promise<{ isAdmin: boolean; name: string }> {
    const cached = this.cache.get(userId);
    if (cached !== undefined && this.now() - cached.at < ADMIN_CACHE_MS) return cached;
    let isAdmin = false;
    let name = fallbackName;
    try {
      const info = await this.client.users.info({ user: userId });
      const user = (info.user ?? {}) as SlackUserFlags;
      const guest = user.is_restricted === true || user.is_ultra_restricted === true;
      isAdmin = !guest && (user.is_admin === true || user.is_owner === true || user.is_primary_owner === true);
      name = user.real_name || user.name || fallbackName;
    } catch (error) {
      this.logger.warn({ err: error, user: userId }, 'users.info failed; treating the user as a non-admin');
    }
    if (this.allowList.includes(userId)) isAdmin = true;
    const entry = { at: this.now(), isAdmin, name };
    this.cache.set(userId, entry);
    return entry;
  }
}

export interface SlackCommandOptions {
  readonly core: ChatCore;
  readonly logger: Logger;
  readonly admins: SlackAdmins;
}

export function registerSlackCommands(app: App, options: SlackCommandOptions): void {
  /**
   * Acks at once and answers through `response_url` afterwards: the admin check may wait on
   * `users.info`, and in HTTP mode the ack is only sent once the listener returns.
   */
  const command = (name: string, work: (command: SlashCommand) => Promise<string>) =>
    app.command(name, async ({ command: invocation, ack, respond }) => {
      await ack();
      void work(invocation)
        .then((text) => answer(respond, text))
        .catch(async (error: unknown) => {
          options.logger.error({ err: error, command: name }, 'slash command failed');
          await answer(respond, 'Sorry, that command failed. Please try again in a moment.').catch(() => undefined);
        });
    });

  command('/instructions', (invocation) => instructions(invocation, options));
  command('/settings', (invocation) =>
    runSlackSettings(options.core, invocation.text, { workspaceId: invocation.team_id, channelId: invocation.channel_id }, () => actorOf(invocation, options.admins)),
  );
  command('/usage', async (invocation) => {
    const actor = await actorOf(invocation, options.admins);
    const days = [1, 7, 30].includes(Number(invocation.text.trim())) ? Number(invocation.text.trim()) : 7;
    const reply = await options.core.runUsageCommand({
      platform: 'slack',
      workspaceId: invocation.team_id,
      actor,
      days,
      label: (kind, id) => (kind === 'channel' ? `<#${id}>` : `<@${id}>`),
    });
    return reply.text;
  });
  command('/forget', async (invocation) => {
    const link = parseThreadLink(invocation.text);
    if (link === undefined) return 'Usage: `/forget <link to the thread>` (use "Copy link" on the thread\'s first message).';
    const actor = await actorOf(invocation, options.admins);
    const thread: ThreadRef = { platform: 'slack', workspaceId: invocation.team_id, channelId: link.channel, threadKey: `${link.channel}:${link.threadTs}` };
    return (await options.core.forgetThread(thread, actor)).text;
  });
}

async function instructions(command: SlashCommand, options: SlackCommandOptions): Promise<string> {
  const parsed = parseInstructionsText(command.text);
  if (parsed.kind === 'usage') return usage('slack');
  const actor = await actorOf(command, options.admins);
  const reply = await options.core.runInstructionsCommand({
    platform: 'slack',
    workspaceId: command.team_id,
    channelId: command.channel_id,
    actor,
    action: parsed.action,
    scope: parsed.scope,
    text: parsed.text,
  });
  return reply.text;
}

async function actorOf(command: SlashCommand, admins: SlackAdmins) {
  const { isAdmin, name } = await admins.check(command.user_id, command.user_name);
  return { id: command.user_id, name, isAdmin };
}

async function answer(respond: RespondFn, text: string): Promise<void> {
  await respond({ response_type: 'ephemeral', text });
}
