/**
 * Opening the thread a channel mention's answer goes in (it has the mention's id: Discord's
 * rule). The answer's first write opens it, so the mention is taken in before Discord creates
 * the thread; a replica that takes the answer over opens it when the mention's own replica never
 * did. Either may find it opened already (by a replica that died right after, say).
 */
import { DiscordAPIError, RESTJSONErrorCodes, type AnyThreadChannel, type Channel, type Message } from 'discord.js';
import type { Logger } from 'pino';
import type { ReplySink } from '../../core/types.js';
import { ThreadlineError } from '../../errors.js';
import type { ScheduledRequest } from './rest-budget.js';

/** Where a channel mention's answer goes. */
export type ThreadOpening =
  | { readonly kind: 'thread'; readonly thread: AnyThreadChannel }
  /** No thread may be opened there (permissions, channel type): the answer goes in the channel. */
  | { readonly kind: 'channel'; readonly error: unknown }
  /** The mention is deleted: there is nothing to answer. */
  | { readonly kind: 'gone' };

const THREAD_NAME_LIMIT = 90;
const AUTO_ARCHIVE_MINUTES = 1440;

/** A thread's name from its mention's text (mentions already rendered as names). */
export function threadName(text: string, authorName: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, THREAD_NAME_LIMIT) || `Conversation with ${authorName}`;
}

/**
 * Opens the thread on `starter`; `find` fetches the thread by its id (the starter's), or null.
 * A failure that may have opened it all the same (a lost response, Discord's 5xx after
 * discord.js's retries) looks for it before answering in the channel, so nothing answers twice.
 */
export async function openThread(starter: Message, name: string, find: () => Promise<Channel | null>, scheduled: ScheduledRequest): Promise<ThreadOpening> {
  let failure: unknown;
  try {
    // The answer's first write: it goes when a first text would.
    const created = await scheduled(() => starter.startThread({ name, autoArchiveDuration: AUTO_ARCHIVE_MINUTES }));
    // discord.js makes no channel of a guild it does not know (a replica without that guild's
    // shard posts through REST alone): the thread exists all the same.
    if (created !== null) return { kind: 'thread', thread: created };
  } catch (error) {
    const code = error instanceof DiscordAPIError ? error.code : undefined;
    if (code === RESTJSONErrorCodes.UnknownMessage) return { kind: 'gone' };
    // Refused (permissions, channel type): nothing was opened.
    if (error instanceof DiscordAPIError && error.status < 500 && code !== RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage) return { kind: 'channel', error };
    // Else opened already (160004: by a replica that died right after, say), or maybe opened.
    if (code !== RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage) failure = error;
  }
  const thread = failure === undefined ? await find() : await find().catch(() => null);
  if (thread?.isThread()) return { kind: 'thread', thread };
  if (failure !== undefined) return { kind: 'channel', error: failure };
  throw new ThreadlineError('platform_post_failed', `the thread of message ${starter.id} was opened but cannot be read`);
}

/** Logs an opening that did not give a thread: the answer goes to the channel, or nowhere. */
export function reportOpening(where: ThreadOpening, logger: Logger, context: { readonly channel: string; readonly message: string }): void {
  if (where.kind === 'channel') logger.warn({ err: where.error, ...context }, 'could not open a thread; answering in the channel');
  if (where.kind === 'gone') logger.info(context, 'the mention was deleted before its thread was opened; not answering');
}

/** Where a mention deleted before its thread opened is answered: nowhere (its reply is not posted). */
export function nowhereSink(): ReplySink {
  return {
    start: async () => undefined,
    finish: async () => [],
    fail: async () => [],
  };
}
