/**
 * Reading a thread with `conversations.replies` (cursor paging): once when the bot first joins it,
 * and after a crash, to find an answer the dead process posted but never recorded.
 */
import type { webApi } from '@slack/bolt';
import type { InboundMessage } from '../../core/types.js';
import { toInbound, type SlackIdentity, type SlackMessageLike } from './inbound.js';

export async function backfillThread(
  client: webApi.WebClient,
  where: { team: string; channel: string; threadTs: string; isDirect: boolean },
  bot: SlackIdentity,
  nameOf: (userId: string) => Promise<string>,
  limit: number,
): Promise<InboundMessage[]> {
  const seen = new Map<string, SlackMessageLike>();
  let cursor: string | undefined;
  do {
    const page = await client.conversations.replies({ channel: where.channel, ts: where.threadTs, limit: 200, ...(cursor === undefined ? {} : { cursor }) });
    // Slack repeats the parent at the top of every page; keying by ts keeps it once.
    for (const message of (page.messages ?? []) as SlackMessageLike[]) seen.set(message.ts, message);
    cursor = page.response_metadata?.next_cursor || undefined;
  } while (cursor !== undefined && seen.size < limit);
  const messages = [...seen.values()]
    .filter((message) => message.subtype === undefined || message.subtype === 'file_share' || message.subtype === 'bot_message' || message.subtype === 'thread_broadcast')
    .sort((a, b) => Number(a.ts) - Number(b.ts))
    .slice(-limit);
  return Promise.all(messages.map((message) => toInbound(message, { team: where.team, channel: where.channel, isDirect: where.isDirect }, bot, nameOf)));
}

/**
 * Deletes the bot's messages after `afterTs` in the thread that the store does not know (`keep`):
 * an answer a crashed run posted, in full or in part, before it could record it.
 */
export async function removeStrayReplies(
  client: webApi.WebClient,
  where: { channel: string; threadTs: string },
  afterTs: string,
  isOwn: (message: SlackMessageLike) => boolean,
  keep: ReadonlySet<string>,
): Promise<number> {
  const strays: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.conversations.replies({ channel: where.channel, ts: where.threadTs, oldest: afterTs, limit: 200, ...(cursor === undefined ? {} : { cursor }) });
    // Timestamps compare as numbers: a double resolves the microsecond sequence at this magnitude.
    for (const message of (page.messages ?? []) as SlackMessageLike[]) {
      if (Number(message.ts) > Number(afterTs) && isOwn(message) && !keep.has(message.ts)) strays.push(message.ts);
    }
    cursor = page.response_metadata?.next_cursor || undefined;
  } while (cursor !== undefined);
  for (const ts of strays) await client.chat.delete({ channel: where.channel, ts });
  return strays.length;
}
