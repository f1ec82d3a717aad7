/**
 * discord.js messages → the core's normalized messages. Mentions become names the model can
 * read; the bot's own mention (user or managed role) disappears.
 */
import { PermissionFlagsBits, type Attachment, type Message } from 'discord.js';
import type { AttachmentInput, AuthorKind, InboundMessage, ThreadRef } from '../../core/types.js';
import { attachmentUrlExpiry } from './attachment-urls.js';

export interface BotIdentity {
  readonly userId: string;
  /** The bot's managed role in a guild, when it has one. */
  roleIdIn(guildId: string | null): string | undefined;
}

/** The conversation a message belongs to, or undefined for a plain channel message (not a conversation yet). */
export function threadOf(message: Pick<Message, 'channel' | 'guildId' | 'channelId'>): ThreadRef | undefined {
  const channel = message.channel;
  if (channel.isDMBased()) return { platform: 'discord', workspaceId: 'dm', channelId: message.channelId, threadKey: message.channelId };
  if (channel.isThread()) {
    return { platform: 'discord', workspaceId: message.guildId ?? 'dm', channelId: channel.parentId ?? channel.id, threadKey: channel.id };
  }
  return undefined;
}

/** A thread started from this channel message has the message's id (Discord's rule). */
export function threadFromChannelMessage(message: Pick<Message, 'guildId' | 'channelId' | 'id'>): ThreadRef {
  return { platform: 'discord', workspaceId: message.guildId ?? 'dm', channelId: message.channelId, threadKey: message.id };
}

export function mentionsBot(message: Message, bot: BotIdentity): boolean {
  if (message.mentions.users.has(bot.userId)) return true;
  const role = bot.roleIdIn(message.guildId);
  return role !== undefined && message.mentions.roles.has(role);
}

export function authorKind(message: Pick<Message, 'author'>, botUserId: string): AuthorKind {
  if (message.author.id === botUserId) return 'self';
  return message.author.bot ? 'bot' : 'user';
}

export function displayName(message: Pick<Message, 'author' | 'member'>): string {
  return message.member?.displayName ?? message.author.globalName ?? message.author.username;
}

/** Discord markup → plain names for the model. */
export function renderText(message: Message, bot: BotIdentity): string {
  const role = bot.roleIdIn(message.guildId);
  return message.content
    .replace(/<@!?(\d+)>/g, (whole, id: string) => {
      if (id === bot.userId) return '';
      const member = message.mentions.members?.get(id);
      const user = message.mentions.users.get(id);
      const name = member?.displayName ?? user?.globalName ?? user?.username;
      return name === undefined ? whole : `@${name}`;
    })
    .replace(/<@&(\d+)>/g, (whole, id: string) => {
      if (id === role) return '';
      const found = message.mentions.roles.get(id);
      return found === undefined ? whole : `@${found.name}`;
    })
    .replace(/<#(\d+)>/g, (whole, id: string) => {
      const channel = message.mentions.channels.get(id) ?? message.client.channels.cache.get(id);
      return channel !== undefined && 'name' in channel && typeof channel.name === 'string' ? `#${channel.name}` : whole;
    })
    .replace(/[ \t]{2,}/g, ' ')
    .trim();
}

export function toAttachmentInput(attachment: Attachment): AttachmentInput {
  return {
    id: attachment.id,
    name: attachment.name,
    mediaType: attachment.contentType ?? null,
    size: attachment.size,
    width: attachment.width ?? null,
    height: attachment.height ?? null,
    url: attachment.url,
    urlExpiresAt: attachmentUrlExpiry(attachment.url),
  };
}

export function toInbound(message: Message, thread: ThreadRef, bot: BotIdentity): InboundMessage {
  return {
    thread,
    messageId: message.id,
    author: {
      id: message.author.id,
      name: displayName(message),
      kind: authorKind(message, bot.userId),
      // For the `roles` setting; in a DM there is no member.
      ...(message.member === null ? {} : { roleIds: [...message.member.roles.cache.keys()], isAdmin: message.member.permissions.has(PermissionFlagsBits.ManageGuild) }),
    },
    text: renderText(message, bot),
    createdAt: message.createdTimestamp,
    attachments: [...message.attachments.values()].map(toAttachmentInput),
    mentionsBot: mentionsBot(message, bot),
    isDirect: message.channel.isDMBased(),
  };
}
