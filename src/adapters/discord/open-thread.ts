/**
 * Opening the thread a channel mention's answer goes in (it has the mention's id: Discord's
 * rule). The answer's first write opens it, so the mention is taken in before Discord creates
 * the thread; a replica that takes the answer over opens it when the mention's own replica never
 * did. Either may find it opened already (by a replica that died right after, say).
 */
import { DiscordAPIError, RESTJSONErrorCodes, type AnyThreadChannel, type Channel, type Message } from 'discord.js';
import type { ReplySink } from '../../core/types.js';
import { ThreadlineError } from '../../errors.js';

/** Where a channel mention's answer goes. */
export type ThreadOpening =
  | { readonly kind: 'thread'; readonly thread: AnyThreadChannel }
  /** No thread may be opened there (permissions, channel type): the answer goes in the channel. */
  | { readonly kind: 'channel'; readonly error: unknown }
  /** The mention is deleted: there is nothing to answer. */
  | { readonly kind: 'gone' };

export const THREAD_NAME_LIMIT = 90;
const AUTO_ARCHIVE_MINUTES = 1440;

/** A thread's name from its mention's text (mentions already rendered as names). */
export function threadName(text: string, authorName: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, THREAD_NAME_LIMIT) || `Conversation with ${authorName}`;
}

/**
 * Opens the thread on `starter`; `find` fetches the thread by its id (the starter's), or null.
 * Failures that say nothing about the thread (a network error, Discord's 5xx after discord.js's
 * retries) are thrown: the thread may exist, so answering in the channel could answer twice.
 */
export async function openThread(starter: Message, name: string, find: () => Promise<Channel | null>): Promise<ThreadOpening> {
  try {
    const created = await starter.startThread({ name, autoArchiveDuration: AUTO_ARCHIVE_MINUTES });
    // discord.js makes no channel of a guild it does not know (a replica without that guild's
    // shard posts through REST alone): the thread exists all the same.
    if (created !== null) return { kind: 'thread', thread: created };
  } catch (error) {
    if (!(error instanceof DiscordAPIError)) throw error;
    if (error.code === RESTJSONErrorCodes.UnknownMessage) return { kind: 'gone' };
    if (error.code !== RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage) {
      if (error.status >= 500) throw error;
      return { kind: 'channel', error };
    }
  }
  const thread = await find();
  if (thread?.isThread()) return { kind: 'thread', thread };
  throw new ThreadlineError('platform_post_failed', `the thread of message ${starter.id} was opened but cannot be read`);
}

/** Where a mention deleted before its thread opened is answered: nowhere (its reply is not posted). */
export function nowhereSink(): ReplySink {
  return {
    start: async () => undefined,
    finish: async () => [],
    fail: async () => [],
  };
}
