/**
 * Discord slash commands: `/instructions`, `/settings`, `/usage` and `/forget`, their registration, and their
 * handling. Permission is checked here on every call (`memberPermissions`), not only by
 * `default_member_permissions`, which server admins can change.
 */
import {
  ApplicationCommandOptionType,
  ChannelType,
  MessageFlags,
  PermissionFlagsBits,
  Routes,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type REST,
} from 'discord.js';
import type { Logger } from 'pino';
import { MAX_INSTRUCTIONS_CHARS, usage, type InstructionsAction, type InstructionsScope } from '../../core/instructions.js';
import { keysFor } from '../../core/settings/keys.js';
import { settingsUsage, type SettingsAction, type SettingsScope } from '../../core/settings/service.js';
import type { ChatCore, ThreadRef } from '../../core/types.js';
import { authorizedFetch } from '../../http/authorized-fetch.js';
import { splitMessage } from '../../core/text/split.js';

/** Largest instructions file accepted, comfortably above 8000 characters of UTF-8. */
const MAX_INSTRUCTIONS_FILE_BYTES = 64 * 1024;
const EPHEMERAL_LIMIT = 2000;

const scopeOption = {
  type: ApplicationCommandOptionType.String,
  name: 'scope',
  description: 'Server-wide (default) or only this channel',
  required: false,
  choices: [
    { name: 'server', value: 'server' },
    { name: 'channel', value: 'channel' },
  ],
};

const ADMIN = String(PermissionFlagsBits.ManageGuild);

const settingKeyOption = {
  type: ApplicationCommandOptionType.String,
  name: 'key',
  description: 'The setting',
  required: true,
  choices: keysFor('discord').map((key) => ({ name: key, value: key })),
};

/** The command definitions registered with `PUT /applications/:app/commands`. */
export function commandDefinitions(): unknown[] {
  return [
    {
      name: 'instructions',
      description: "Set, show, clear or audit the bot's instructions for this server or channel",
      default_member_permissions: ADMIN,
      dm_permission: false,
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'set',
          description: 'Set the instructions (text, or a .txt/.md file for long ones)',
          options: [
            { type: ApplicationCommandOptionType.String, name: 'text', description: `Instructions, up to ${MAX_INSTRUCTIONS_CHARS} characters`, required: false, max_length: 6000 },
            scopeOption,
            { type: ApplicationCommandOptionType.Attachment, name: 'file', description: 'A .txt or .md file with the instructions', required: false },
          ],
        },
        { type: ApplicationCommandOptionType.Subcommand, name: 'show', description: 'Show the instructions that apply in this channel' },
        { type: ApplicationCommandOptionType.Subcommand, name: 'clear', description: 'Remove the instructions', options: [scopeOption] },
        { type: ApplicationCommandOptionType.Subcommand, name: 'history', description: 'The last 10 changes', options: [scopeOption] },
      ],
    },
    {
      name: 'settings',
      description: "Show or change the bot's settings (model, web tools, answers, roles) here",
      default_member_permissions: ADMIN,
      dm_permission: false,
      options: [
        { type: ApplicationCommandOptionType.Subcommand, name: 'show', description: 'Every setting that applies in this channel, and where it comes from' },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'set',
          description: 'Set a key for the server (default) or this channel',
          options: [
            settingKeyOption,
            { type: ApplicationCommandOptionType.String, name: 'value', description: 'on/off, a model id, or role mentions', required: true, autocomplete: true, max_length: 1000 },
            scopeOption,
          ],
        },
        { type: ApplicationCommandOptionType.Subcommand, name: 'clear', description: 'Back to the inherited value', options: [settingKeyOption, scopeOption] },
        { type: ApplicationCommandOptionType.Subcommand, name: 'history', description: 'The last 10 changes', options: [scopeOption] },
      ],
    },
    {
      name: 'usage',
      description: 'Claude token usage by channel and user',
      default_member_permissions: ADMIN,
      dm_permission: false,
      options: [
        {
          type: ApplicationCommandOptionType.Integer,
          name: 'days',
          description: 'Period (default 7 days)',
          required: false,
          choices: [
            { name: 'last day', value: 1 },
            { name: 'last 7 days', value: 7 },
            { name: 'last 30 days', value: 30 },
          ],
        },
      ],
    },
    {
      name: 'forget',
      description: 'Make the bot forget the stored history of this thread',
      default_member_permissions: ADMIN,
      dm_permission: false,
    },
  ];
}

/** Registers the commands globally, or in one guild (instant, for development). */
export async function registerCommands(rest: REST, applicationId: string, guildId: string | undefined, logger: Logger): Promise<void> {
  const route = guildId === undefined ? Routes.applicationCommands(applicationId) : Routes.applicationGuildCommands(applicationId, guildId);
  try {
    await rest.put(route, { body: commandDefinitions() });
    logger.info({ scope: guildId === undefined ? 'global' : `guild ${guildId}` }, 'slash commands registered');
  } catch (error) {
    // The bot still chats without its admin commands; say so instead of dying.
    logger.error({ err: error }, 'could not register slash commands (is the applications.commands scope granted?)');
  }
}

export interface CommandContext {
  readonly core: ChatCore;
  readonly logger: Logger;
}

export async function handleCommand(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  const log = context.logger.child({ command: interaction.commandName, user: interaction.user.id, guild: interaction.guildId });
  if (interaction.guildId === null) {
    await reply(interaction, 'Instructions, settings, usage and memory are managed per server: run this command in a server channel.');
    return;
  }
  // Server-side check on every call: default_member_permissions is only a default admins can change.
  const isAdmin = interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false;
  const channelId = scopeChannelId(interaction);
  const actor = { id: interaction.user.id, name: interaction.user.globalName ?? interaction.user.username, isAdmin };
  switch (interaction.commandName) {
    case 'instructions':
      await handleInstructions(interaction, context, { guildId: interaction.guildId, channelId, actor }, log);
      return;
    case 'settings':
      await handleSettings(interaction, context, { guildId: interaction.guildId, channelId, actor });
      return;
    case 'usage': {
      const days = interaction.options.getInteger('days') ?? 7;
      const result = await context.core.runUsageCommand({
        platform: 'discord',
        workspaceId: interaction.guildId,
        actor,
        days,
        label: (kind, id) => (kind === 'channel' ? `<#${id}>` : `<@${id}>`),
      });
      await reply(interaction, result.text);
      return;
    }
    case 'forget': {
      if (!interaction.channel?.isThread() && interaction.channel?.type !== ChannelType.GuildText) {
        await reply(interaction, 'Run /forget inside the thread the bot should forget.');
        return;
      }
      const thread: ThreadRef = { platform: 'discord', workspaceId: interaction.guildId, channelId, threadKey: interaction.channelId };
      await reply(interaction, (await context.core.forgetThread(thread, actor)).text);
      return;
    }
    default:
      log.warn('unknown command');
      await reply(interaction, `Unknown command. ${usage('discord')}`);
  }
}

async function handleInstructions(
  interaction: ChatInputCommandInteraction,
  context: CommandContext,
  where: { guildId: string; channelId: string; actor: { id: string; name: string; isAdmin: boolean } },
  log: Logger,
): Promise<void> {
  const subcommand = interaction.options.getSubcommand(false);
  if (subcommand === null || !['set', 'show', 'clear', 'history'].includes(subcommand)) {
    await reply(interaction, usage('discord'));
    return;
  }
  const scope: InstructionsScope = interaction.options.getString('scope') === 'channel' ? 'channel' : 'workspace';
  let text = interaction.options.getString('text') ?? undefined;
  const file = subcommand === 'set' ? interaction.options.getAttachment('file') : null;
  if (file !== null && where.actor.isAdmin) {
    // Reading a file can take longer than the 3 s Discord allows before the first answer.
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const read = await readInstructionsFile(file, log);
    if ('error' in read) {
      await reply(interaction, read.error);
      return;
    }
    text = text === undefined ? read.text : `${text}\n\n${read.text}`;
  }
  const result = await context.core.runInstructionsCommand({
    platform: 'discord',
    workspaceId: where.guildId,
    channelId: where.channelId,
    actor: where.actor,
    action: subcommand as InstructionsAction,
    scope,
    ...(text === undefined ? {} : { text }),
  });
  await reply(interaction, result.text);
}

async function handleSettings(
  interaction: ChatInputCommandInteraction,
  context: CommandContext,
  where: { guildId: string; channelId: string; actor: { id: string; name: string; isAdmin: boolean } },
): Promise<void> {
  const action = interaction.options.getSubcommand(false);
  if (action === null || !['show', 'set', 'clear', 'history'].includes(action)) {
    await reply(interaction, settingsUsage('discord'));
    return;
  }
  const key = interaction.options.getString('key') ?? undefined;
  const value = interaction.options.getString('value') ?? undefined;
  // Checking a model id may ask the Messages API for its list: longer than the 3 s Discord allows.
  if (action === 'set' && key === 'model' && where.actor.isAdmin) await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const roles = interaction.guild?.roles.cache;
  const result = await context.core.runSettingsCommand({
    platform: 'discord',
    workspaceId: where.guildId,
    channelId: where.channelId,
    actor: where.actor,
    action: action as SettingsAction,
    scope: (interaction.options.getString('scope') === 'channel' ? 'channel' : 'workspace') satisfies SettingsScope,
    ...(key === undefined ? {} : { key }),
    ...(value === undefined ? {} : { value }),
    ...(roles === undefined || roles.size === 0 ? {} : { knownRoleIds: new Set(roles.keys()) }),
  });
  await reply(interaction, result.text);
}

/** `/settings set value:` suggestions (model ids the API lists, on/off); admins only, like the command. */
export async function handleAutocomplete(interaction: AutocompleteInteraction, context: CommandContext): Promise<void> {
  const focused = interaction.options.getFocused(true);
  const isAdmin = interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false;
  if (interaction.commandName !== 'settings' || focused.name !== 'value' || !isAdmin) {
    await interaction.respond([]);
    return;
  }
  const choices = await context.core.settingValueChoices('discord', interaction.options.getString('key') ?? undefined, String(focused.value));
  await interaction.respond(choices.slice(0, 25).map((choice) => ({ name: choice.slice(0, 100), value: choice.slice(0, 100) })));
}

async function readInstructionsFile(
  file: { name: string; contentType: string | null; size: number; url: string },
  log: Logger,
): Promise<{ text: string } | { error: string }> {
  const textual = /\.(txt|md|markdown)$/i.test(file.name) || (file.contentType ?? '').startsWith('text/');
  if (!textual) return { error: `${file.name} is not a text file: attach a .txt or .md file.` };
  if (file.size > MAX_INSTRUCTIONS_FILE_BYTES) return { error: `${file.name} is too large (${file.size} bytes); instructions can be at most ${MAX_INSTRUCTIONS_CHARS} characters.` };
  try {
    const { bytes } = await authorizedFetch(file.url, { token: undefined, allowHost: () => false, maxBytes: MAX_INSTRUCTIONS_FILE_BYTES });
    const text = Buffer.from(bytes).toString('utf8');
    if (text.includes('\u0000')) return { error: `${file.name} is not a text file.` };
    return { text };
  } catch (error) {
    log.warn({ err: error }, 'could not read the instructions file');
    return { error: `I could not read ${file.name}. Please try again.` };
  }
}

/** Threads take their parent channel's instructions. */
function scopeChannelId(interaction: ChatInputCommandInteraction): string {
  const channel = interaction.channel;
  if (channel?.isThread() && channel.parentId !== null) return channel.parentId;
  return interaction.channelId;
}

async function reply(interaction: ChatInputCommandInteraction, text: string): Promise<void> {
  const [first, ...rest] = splitMessage(text, EPHEMERAL_LIMIT);
  const content = first ?? '…';
  if (interaction.deferred || interaction.replied) await interaction.editReply({ content, allowedMentions: { parse: [] } });
  else await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  for (const part of rest) await interaction.followUp({ content: part, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
}
