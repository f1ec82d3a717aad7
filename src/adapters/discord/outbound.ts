/**
 * One answer on Discord: typing while the model thinks, the text streamed into a message that is
 * edited about once a second, continued in new messages past 2000 characters (code fences closed
 * and reopened), and a final pass that makes the messages say exactly the model's answer. Every
 * call goes through one pacer so a reply never meets Discord's ~5 edits per 5 s limit, and through
 * the bot's WriteScheduler, which shares Discord's 50 requests per second among all answers:
 * first texts before final texts before typing before progress edits (which stretch under load).
 */
import { DiscordAPIError, type Message, type MessageCreateOptions } from 'discord.js';
import type { Logger } from 'pino';
import type { ErrorCode } from '../../errors.js';
import { ThreadlineError } from '../../errors.js';
import { WriteScheduler, type WriteKind } from '../../core/concurrency/write-scheduler.js';
import { Pacer } from '../../core/pacer.js';
import { splitMessage } from '../../core/text/split.js';
import type { FinalReply, PostedIds, ReplySink } from '../../core/types.js';
import { toDiscordMarkdown } from './markdown.js';

export const DISCORD_LIMIT = 2000;
const CURSOR = ' ▌';
const FORBIDDEN_CODES = new Set([50001, 50013, 50083, 10003]);

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
  /** The bot's write budget, shared by all answers (default: unlimited). */
  readonly scheduler?: WriteScheduler;
}

export class DiscordReplySink implements ReplySink {
  private readonly posted: Message[] = [];
  private readonly shown: string[] = [];
  private readonly firstShowMs: number;
  private latest = '';
  private firstTextAt: number | undefined;
  private readonly pacer: Pacer;
  private typingTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private done = false;
  private readonly scheduler: WriteScheduler;
  /** Aborted once text shows: a typing sign still waiting for budget is pointless then. */
  private readonly typingStop = new AbortController();
  /** Aborted when the answer is complete: a progress edit still waiting is pointless then. */
  private readonly streamStop = new AbortController();
  private streamingCounted = false;

  constructor(private readonly options: DiscordSinkOptions) {
    this.scheduler = options.scheduler ?? new WriteScheduler();
    const spacingMs = options.spacingMs ?? 1000;
    // Progress edits stretch while many answers stream at once; the final pass keeps the base pace.
    this.pacer = new Pacer(() => (this.done ? spacingMs : this.scheduler.editSpacing(spacingMs)));
    this.firstShowMs = options.firstShowMs ?? 1000;
  }

  async start(): Promise<void> {
    let waiting = false;
    const typing = () => {
      // A renewal still waiting for budget is renewal enough.
      if (waiting) return;
      waiting = true;
      void this.scheduler
        .run('typing', () => {
          waiting = false;
          return this.options.target.sendTyping();
        }, [], this.typingStop.signal)
        .catch((error: unknown) => this.options.logger.debug({ err: error }, 'typing indicator failed'));
    };
    typing();
    // Discord shows typing for ~10 s; renew until the first text is visible.
    this.typingTimer = setInterval(typing, this.options.typingEveryMs ?? 8000);
  }

  progress(textSoFar: string): void {
    this.latest = textSoFar;
    this.firstTextAt ??= Date.now();
    if (this.done) return;
    // Before anything is visible, a finished sentence is worth showing at once.
    if (this.flushTimer !== undefined && this.posted.length === 0 && this.hasSentence()) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.flushTimer === undefined) this.scheduleFlush();
  }

  private hasSentence(): boolean {
    return /[.!?:](\s|$)|\n/.test(this.latest);
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    this.stopTimers();
    await this.flushing;
    const body = toDiscordMarkdown(reply.text);
    const full = reply.note === undefined ? body : `${body}\n\n-# ${reply.note.split('\n').join('\n-# ')}`;
    await this.reconcile(splitMessage(full, DISCORD_LIMIT));
    return this.posted.map((message) => message.id);
  }

  async fail(userMessage: string, _code: ErrorCode): Promise<PostedIds> {
    this.stopTimers();
    await this.flushing;
    // Partial text must not stay visible as if it were the answer.
    await this.reconcile([`⚠️ ${userMessage}`]);
    return this.posted.map((message) => message.id);
  }

  private stopTimers(): void {
    this.done = true;
    clearInterval(this.typingTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.typingStop.abort();
    this.streamStop.abort();
    if (this.streamingCounted) this.scheduler.streaming(false);
    this.streamingCounted = false;
  }

  private scheduleFlush(): void {
    const now = Date.now();
    let due: number;
    if (this.posted.length === 0) {
      due = this.hasSentence() ? now : (this.firstTextAt ?? now) + this.firstShowMs;
    } else {
      due = this.pacer.readyAt();
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.flush()).catch((error: unknown) => this.options.logger.warn({ err: error }, 'streaming update failed'));
    }, Math.max(0, due - now));
  }

  /**
   * Shows the text so far, one write per turn: edits the last message, or starts the next one
   * when it overflows. The text is taken when the write's turn comes, so a write that waited for
   * budget shows everything written meanwhile.
   */
  private async flush(): Promise<void> {
    if (this.done) return;
    const kind: WriteKind = this.posted.length === 0 ? 'first' : 'edit';
    await this.pacer.run(async () => {
      const ticket = await this.scheduler.acquire(kind, [], this.streamStop.signal);
      if (ticket === undefined) return;
      const parts = this.streamingParts();
      const last = this.posted.length - 1;
      try {
        if (last >= 0 && parts[last] !== undefined && this.shown[last] !== parts[last]) {
          await this.sendEdit(last, `${parts[last]}${parts.length - 1 > last ? '' : CURSOR}`, parts[last]);
        } else if (parts.length > this.posted.length) {
          const index = this.posted.length;
          await this.sendPost(`${parts[index] as string}${CURSOR}`, parts[index] as string);
          if (index === 0) this.nowShowing();
        }
      } catch (error) {
        throw asPlatformError(error);
      } finally {
        ticket.done();
      }
    });
    if (!this.done && this.latest !== '' && this.streamingParts().join('') !== this.shown.join('')) this.scheduleFlush();
  }

  private streamingParts(): string[] {
    return splitMessage(toDiscordMarkdown(this.latest), DISCORD_LIMIT - CURSOR.length);
  }

  /** The first text is visible: typing ends, and this answer now streams edits. */
  private nowShowing(): void {
    clearInterval(this.typingTimer);
    this.typingStop.abort();
    if (!this.done && !this.streamingCounted) {
      this.streamingCounted = true;
      this.scheduler.streaming(true);
    }
  }

  /** Makes the posted messages exactly `parts`: edit what differs, post what is missing, delete the rest. */
  private async reconcile(parts: readonly string[]): Promise<void> {
    for (let index = 0; index < parts.length; index += 1) {
      const part = parts[index] as string;
      if (index < this.posted.length) {
        if (this.shown[index] !== part || this.hasCursor(index)) await this.edit(index, part, part);
      } else {
        await this.post(part, part);
      }
    }
    while (this.posted.length > parts.length) {
      const extra = this.posted.pop() as Message;
      this.shown.pop();
      await this.paced('final', () => extra.delete());
    }
  }

  private readonly cursorOn = new Set<number>();

  private hasCursor(index: number): boolean {
    return this.cursorOn.has(index);
  }

  /** A post or edit of the final pass: the first text when nothing shows yet, else the final text. */
  private finalKind(): WriteKind {
    return this.posted.length === 0 ? 'first' : 'final';
  }

  private async post(content: string, logical: string): Promise<void> {
    const kind = this.finalKind();
    await this.paced(kind, () => this.sendPost(content, logical));
  }

  private async edit(index: number, content: string, logical: string): Promise<void> {
    await this.paced('final', () => this.sendEdit(index, content, logical));
  }

  private async sendPost(content: string, logical: string): Promise<void> {
    const first = this.posted.length === 0;
    const message = await this.options.target.send({
        content,
        allowedMentions: { parse: [], repliedUser: false },
      ...(first && this.options.replyTo !== undefined ? { reply: { messageReference: this.options.replyTo, failIfNotExists: false } } : {}),
    });
    this.posted.push(message);
    this.shown.push(logical);
    this.markCursor(this.posted.length - 1, content !== logical);
  }

  private async sendEdit(index: number, content: string, logical: string): Promise<void> {
    const message = this.posted[index] as Message;
    await message.edit({ content, allowedMentions: { parse: [], repliedUser: false } });
    this.shown[index] = logical;
    this.markCursor(index, content !== logical);
  }

  private markCursor(index: number, on: boolean): void {
    if (on) this.cursorOn.add(index);
    else this.cursorOn.delete(index);
  }

  private async paced<T>(kind: WriteKind, call: () => Promise<T>): Promise<T> {
    try {
      // Without a signal the scheduler always sends the write.
      return await this.pacer.run(async () => (await this.scheduler.run(kind, call)) as T);
    } catch (error) {
      throw asPlatformError(error);
    }
  }

}

export function asPlatformError(error: unknown): ThreadlineError {
  if (error instanceof ThreadlineError) return error;
  if (error instanceof DiscordAPIError && FORBIDDEN_CODES.has(Number(error.code))) {
    return new ThreadlineError('platform_forbidden', `Discord refused: ${error.message} (missing permissions in this channel?)`, { cause: error });
  }
  return new ThreadlineError('platform_post_failed', `Discord call failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
