/** A thread read once from `conversations.replies` (cursor paging), when the bot first joins it. */
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
