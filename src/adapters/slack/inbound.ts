/** Slack events → the core's normalized messages. */
import type { AttachmentInput, AuthorKind, InboundMessage, ThreadRef } from '../../core/types.js';
import { decodeSlackText } from './mrkdwn-decode.js';

export interface SlackFileLike {
  id?: string;
  name?: string | null;
  title?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
  original_w?: number | string;
  original_h?: number | string;
}

/** The fields of `message` / `app_mention` events (and replies) that matter here. */
export interface SlackMessageLike {
  ts: string;
  thread_ts?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  subtype?: string;
  channel_type?: string;
  files?: SlackFileLike[];
  team?: string;
}

export interface SlackIdentity {
  readonly userId: string;
  readonly botId: string;
}

export function threadRef(team: string, channel: string, message: Pick<SlackMessageLike, 'ts' | 'thread_ts'>): ThreadRef {
  return { platform: 'slack', workspaceId: team, channelId: channel, threadKey: `${channel}:${message.thread_ts ?? message.ts}` };
}

export function authorKindOf(message: SlackMessageLike, bot: SlackIdentity): AuthorKind {
  if (message.user === bot.userId || (message.bot_id !== undefined && message.bot_id === bot.botId)) return 'self';
  if (message.bot_id !== undefined || message.subtype === 'bot_message') return 'bot';
  return 'user';
}

export function mentionsBot(text: string | undefined, bot: SlackIdentity): boolean {
  return (text ?? '').includes(`<@${bot.userId}`);
}

/** Slack ts "1700000000.123456" → epoch ms. */
export function tsToMs(ts: string): number {
  return Math.round(Number(ts) * 1000);
}

function dimension(value: number | string | undefined): number | null {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : null;
}

export function toAttachments(files: readonly SlackFileLike[] | undefined): AttachmentInput[] {
  return (files ?? []).flatMap((file) => {
    const url = file.url_private_download ?? file.url_private;
    if (url === undefined || file.id === undefined) return [];
    return [
      {
        id: file.id,
        name: file.name ?? file.title ?? file.id,
        mediaType: file.mimetype ?? null,
        size: file.size ?? null,
        width: dimension(file.original_w),
        height: dimension(file.original_h),
        url,
        urlExpiresAt: null,
      },
    ];
  });
}

export async function toInbound(
  message: SlackMessageLike,
  where: { team: string; channel: string; isDirect: boolean; forceMention?: boolean; dedupeKeys?: string[] },
  bot: SlackIdentity,
  nameOf: (userId: string) => Promise<string>,
): Promise<InboundMessage> {
  const kind = authorKindOf(message, bot);
  const authorId = message.user ?? message.bot_id ?? 'unknown';
  return {
    thread: threadRef(where.team, where.channel, message),
    messageId: message.ts,
    author: { id: authorId, name: kind === 'self' ? 'threadline' : await nameOf(authorId), kind },
    text: await decodeSlackText(message.text ?? '', bot.userId, nameOf),
    createdAt: tsToMs(message.ts),
    attachments: toAttachments(message.files),
    mentionsBot: where.forceMention === true || mentionsBot(message.text, bot),
    isDirect: where.isDirect,
    ...(where.dedupeKeys === undefined ? {} : { dedupeKeys: where.dedupeKeys }),
  };
}
