/**
 * One answer on Discord: typing while the model thinks, the text streamed into a message that is
 * edited about once a second, continued in new messages past 2000 characters (code fences closed
 * and reopened), and a final pass that makes the messages say exactly the model's answer. Every
 * call goes through one pacer so a reply never meets Discord's ~5 edits per 5 s limit.
 */
import { DiscordAPIError, type Message, type MessageCreateOptions } from 'discord.js';
import type { Logger } from 'pino';
import type { ErrorCode } from '../../errors.js';
import { ThreadlineError } from '../../errors.js';
import { Pacer } from '../../core/pacer.js';
import { splitMessage } from '../../core/text/split.js';
import type { FinalReply, PostedIds, ReplySink, ToolActivity } from '../../core/types.js';
import { activityLine, toDiscordMarkdown, withDiscordSources } from './markdown.js';

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
}

export class DiscordReplySink implements ReplySink {
  private readonly posted: Message[] = [];
  private readonly shown: string[] = [];
  private readonly firstShowMs: number;
  private latest = '';
  /** What a web search or fetch is doing, shown under the text until more text comes. */
  private status: string | undefined;
  /** Exactly what each posted message shows now (text plus cursor or status). */
  private readonly contents: string[] = [];
  private firstTextAt: number | undefined;
  private readonly pacer: Pacer;
  private typingTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private done = false;

  constructor(private readonly options: DiscordSinkOptions) {
    this.pacer = new Pacer(options.spacingMs ?? 1000);
    this.firstShowMs = options.firstShowMs ?? 1000;
  }

  async start(): Promise<void> {
    const typing = () => {
      this.options.target.sendTyping().catch((error: unknown) => this.options.logger.debug({ err: error }, 'typing indicator failed'));
    };
    typing();
    // Discord shows typing for ~10 s; renew until the first text is visible.
    this.typingTimer = setInterval(typing, this.options.typingEveryMs ?? 8000);
  }

  progress(textSoFar: string): void {
    this.latest = textSoFar;
    this.status = undefined;
    this.firstTextAt ??= Date.now();
    if (this.done) return;
    // Before anything is visible, a finished sentence is worth showing at once.
    if (this.flushTimer !== undefined && this.posted.length === 0 && this.hasSentence()) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.flushTimer === undefined) this.scheduleFlush();
  }

  activity(activity: ToolActivity): void {
    if (this.done) return;
    this.status = activityLine(activity);
    if (this.flushTimer === undefined) this.scheduleFlush();
  }

  private hasSentence(): boolean {
    return /[.!?:](\s|$)|\n/.test(this.latest);
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    this.stopTimers();
    await this.flushing;
    const body = toDiscordMarkdown(withDiscordSources(reply.text, reply.sources ?? []));
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
  }

  private scheduleFlush(): void {
    const now = Date.now();
    let due: number;
    if (this.posted.length === 0) {
      due = this.hasSentence() || this.status !== undefined ? now : (this.firstTextAt ?? now) + this.firstShowMs;
    } else {
      due = this.pacer.readyAt();
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.flush()).catch((error: unknown) => this.options.logger.warn({ err: error }, 'streaming update failed'));
    }, Math.max(0, due - now));
  }

  /** Shows the text so far: edits the last message, or starts the next one when it overflows. */
  private async flush(): Promise<void> {
    if (this.done) return;
    const status = this.status;
    const suffix = status === undefined ? CURSOR : `\n-# ${status}`;
    const parts = this.latest === '' ? [''] : splitMessage(toDiscordMarkdown(this.latest), DISCORD_LIMIT - suffix.length);
    // The newest part carries the cursor, or what a running web tool is doing.
    const display = (index: number) => {
      const part = parts[index] as string;
      if (index < parts.length - 1) return part;
      return part === '' && status !== undefined ? `-# ${status}` : `${part}${suffix}`;
    };
    const last = this.posted.length - 1;
    if (last >= 0 && parts[last] !== undefined && this.contents[last] !== display(last)) {
      await this.edit(last, display(last), parts[last]);
    }
    if (parts.length > this.posted.length && !this.done) {
      const index = this.posted.length;
      await this.post(display(index), parts[index] as string);
      clearInterval(this.typingTimer);
    }
    if (!this.done && this.latest !== '' && parts.join('') !== this.shown.join('')) this.scheduleFlush();
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
      this.contents.pop();
      await this.paced(() => extra.delete());
    }
  }

  private readonly cursorOn = new Set<number>();

  private hasCursor(index: number): boolean {
    return this.cursorOn.has(index);
  }

  private async post(content: string, logical: string): Promise<void> {
    const first = this.posted.length === 0;
    const message = await this.paced(() =>
      this.options.target.send({
        content,
        allowedMentions: { parse: [], repliedUser: false },
        ...(first && this.options.replyTo !== undefined ? { reply: { messageReference: this.options.replyTo, failIfNotExists: false } } : {}),
      }),
    );
    this.posted.push(message);
    this.shown.push(logical);
    this.contents.push(content);
    this.markCursor(this.posted.length - 1, content !== logical);
  }

  private async edit(index: number, content: string, logical: string): Promise<void> {
    const message = this.posted[index] as Message;
    await this.paced(() => message.edit({ content, allowedMentions: { parse: [], repliedUser: false } }));
    this.shown[index] = logical;
    this.contents[index] = content;
    this.markCursor(index, content !== logical);
  }

  private markCursor(index: number, on: boolean): void {
    if (on) this.cursorOn.add(index);
    else this.cursorOn.delete(index);
  }

  private async paced<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.pacer.run(call);
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
