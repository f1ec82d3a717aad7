/** What a Discord answer is written into, and how (see outbound.ts). */
import type { Message, MessageCreateOptions } from 'discord.js';
import type { Logger } from 'pino';
import type { WriteScheduler } from '../../core/concurrency/write-scheduler.js';

export interface SendTarget {
  send(options: MessageCreateOptions): Promise<Message>;
  sendTyping(): Promise<void>;
}

export interface DiscordSinkOptions {
  readonly target: SendTarget;
  /** Message to reply to (same channel only). */
  readonly replyTo?: string;
  readonly logger: Logger;
  /** Minimum time between two calls that change messages. */
  readonly spacingMs?: number;
  /** First text shows once it has a sentence, or after this long. */
  readonly firstShowMs?: number;
  readonly typingEveryMs?: number;
  /** The typing sign's grace: shown only if no text is visible this long after the answer started (see typing.ts). */
  readonly typingAfterMs?: number;
  /** The messages of an answer being regenerated, first first: edited instead of posting anew. */
  readonly existing?: readonly Message[];
  /** The bot's write budget, shared by all answers (default: unlimited). */
  readonly scheduler?: WriteScheduler;
}
