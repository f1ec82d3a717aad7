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
import type { FinalReply, PostedIds, ReplySink, ReplyStartInfo, ToolActivity } from '../../core/types.js';
import { answerComponents, type ButtonRow } from './buttons.js';
import { activityLine, toDiscordMarkdown, withDiscordSources } from './markdown.js';

export const DISCORD_LIMIT = 2000;
const CURSOR = ' ▌';
const THINKING = '-# 💭 thinking…';
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
  /** The messages of an answer being regenerated, first first: edited instead of posting anew. */
  readonly existing?: readonly Message[];
}

export class DiscordReplySink implements ReplySink {
  private readonly posted: Message[] = [];
  private readonly shown: string[] = [];
  /** The buttons each posted message carries. */
  private readonly rows: ButtonRow[] = [];
  private answerId: string | undefined;
  private readonly firstShowMs: number;
  private latest = '';
  /** What a web search or fetch is doing, shown under the text until more text comes. */
  private status: string | undefined;
  /** Exactly what each posted message shows now (text plus cursor, status or nothing). */
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
    for (const message of options.existing ?? []) {
      this.posted.push(message);
      this.shown.push(message.content);
      this.contents.push(message.content);
      // Whatever buttons it had: the final pass sets them again.
      this.rows.push('final');
    }
  }

  async start(info?: ReplyStartInfo): Promise<void> {
    this.answerId = info?.answerId;
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

  thinking(): void {
    if (this.done || this.posted.length > 0) return;
    // Shown at once, with Stop: thinking can take a while before the first word.
    this.flushing = this.flushing
      .then(async () => {
        if (this.done || this.posted.length > 0) return;
        await this.post(THINKING, THINKING, 'stop');
        clearInterval(this.typingTimer);
      })
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not show thinking'));
  }

  private hasSentence(): boolean {
    return /[.!?:](\s|$)|\n/.test(this.latest);
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    this.stopTimers();
    await this.flushing;
    const body = toDiscordMarkdown(withDiscordSources(reply.text, reply.sources ?? []));
    const full = reply.note === undefined ? body : `${body}\n\n-# ${reply.note.split('\n').join('\n-# ')}`;
    await this.reconcile(splitMessage(full, DISCORD_LIMIT), 'final');
    return this.posted.map((message) => message.id);
  }

  async fail(userMessage: string, _code: ErrorCode): Promise<PostedIds> {
    this.stopTimers();
    await this.flushing;
    // Partial text must not stay visible as if it were the answer.
    await this.reconcile([`⚠️ ${userMessage}`], 'none');
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

  /**
   * Shows the text so far: the part being written carries the cursor (or what a running web
   * tool is doing) and Stop; parts before it lose them once the text moves on. Only messages that
   * change are touched (usually the last). Parts of a regenerated answer beyond the new text stay
   * until the final pass.
   */
  private async flush(): Promise<void> {
    if (this.done) return;
    const status = this.status;
    const suffix = status === undefined ? CURSOR : `\n-# ${status}`;
    const parts = this.latest === '' ? [''] : splitMessage(toDiscordMarkdown(this.latest), DISCORD_LIMIT - suffix.length);
    for (let index = 0; index < parts.length && !this.done; index += 1) {
      const part = parts[index] as string;
      const writing = index === parts.length - 1;
      const display = !writing ? part : part === '' && status !== undefined ? `-# ${status}` : `${part}${suffix}`;
      const row = this.rowFor(writing ? 'stop' : 'none');
      if (index >= this.posted.length) {
        await this.post(display, part, row);
        clearInterval(this.typingTimer);
      } else if (this.contents[index] !== display || this.rows[index] !== row) {
        await this.edit(index, display, part, row);
      }
    }
    if (!this.done && this.latest !== '' && parts.join('') !== this.shown.slice(0, parts.length).join('')) this.scheduleFlush();
  }

  /**
   * Makes the posted messages exactly `parts`: edit what differs, post what is missing, delete
   * the rest. The last part gets `lastRow`'s buttons, the others none.
   */
  private async reconcile(parts: readonly string[], lastRow: ButtonRow): Promise<void> {
    for (let index = 0; index < parts.length; index += 1) {
      const part = parts[index] as string;
      const row = this.rowFor(index === parts.length - 1 ? lastRow : 'none');
      if (index < this.posted.length) {
        if (this.contents[index] !== part || this.rows[index] !== row) await this.edit(index, part, part, row);
      } else {
        await this.post(part, part, row);
      }
    }
    while (this.posted.length > parts.length) {
      const extra = this.posted.pop() as Message;
      this.shown.pop();
      this.rows.pop();
      this.contents.pop();
      await this.paced(() => extra.delete());
    }
  }

  private async post(content: string, logical: string, row: ButtonRow): Promise<void> {
    const first = this.posted.length === 0;
    const message = await this.paced(() =>
      this.options.target.send({
        content,
        components: answerComponents(row, this.answerId),
        allowedMentions: { parse: [], repliedUser: false },
        ...(first && this.options.replyTo !== undefined ? { reply: { messageReference: this.options.replyTo, failIfNotExists: false } } : {}),
      }),
    );
    this.posted.push(message);
    this.shown.push(logical);
    this.rows.push(this.rowFor(row));
    this.contents.push(content);
  }

  private async edit(index: number, content: string, logical: string, row: ButtonRow): Promise<void> {
    const message = this.posted[index] as Message;
    await this.paced(() => message.edit({ content, components: answerComponents(row, this.answerId), allowedMentions: { parse: [], repliedUser: false } }));
    this.shown[index] = logical;
    this.rows[index] = this.rowFor(row);
    this.contents[index] = content;
  }

  /** Without an answer id (an apology, a limit notice) there is nothing for buttons to act on. */
  private rowFor(row: ButtonRow): ButtonRow {
    return this.answerId === undefined ? 'none' : row;
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
