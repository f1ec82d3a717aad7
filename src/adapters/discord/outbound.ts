/**
 * One answer on Discord: typing while the model thinks, the text streamed into a message that is
 * edited about once a second, continued in new messages past 2000 characters (code fences closed
 * and reopened), and a final pass that makes the messages say exactly the model's answer. Every
 * call goes through one pacer so a reply never meets Discord's ~5 edits per 5 s limit, and through
 * the bot's WriteScheduler, which shares Discord's 50 requests per second among all answers:
 * first texts before final texts before typing before progress edits (which stretch under load).
 */
import type { Message } from 'discord.js';
import type { ErrorCode } from '../../errors.js';
import { WriteScheduler, type WriteKind } from '../../core/concurrency/write-scheduler.js';
import { Pacer } from '../../core/pacer.js';
import { splitMessage } from '../../core/text/split.js';
import type { FinalReply, PostedIds, ReplySink, ReplyStartInfo, ToolActivity } from '../../core/types.js';
import { answerComponents, type ButtonRow } from './buttons.js';
import { activityLine, toDiscordMarkdown, withDiscordSources } from './markdown.js';
import { asPlatformError } from './platform-errors.js';
import type { DiscordSinkOptions } from './sink-options.js';
import { TypingIndicator } from './typing.js';

export type { DiscordSinkOptions, SendTarget } from './sink-options.js';

export const DISCORD_LIMIT = 2000;
const CURSOR = ' ▌';
const THINKING = '-# 💭 thinking…';
/** How long an answer goes without a typing sign before one is asked for (typing.ts). */
const TYPING_AFTER_MS = 300;

export class DiscordReplySink implements ReplySink {
  private readonly posted: Message[] = [];
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
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private done = false;
  private readonly scheduler: WriteScheduler;
  private readonly typing: TypingIndicator;
  /** Aborted when the answer is complete: a progress edit still waiting is pointless then. */
  private readonly streamStop = new AbortController();
  private streamingCounted = false;
  /** Some answer text is visible (not only typing, "thinking…" or a tool status). */
  private textShown = false;
  /** Releases the budget slot kept for this answer's first text (see WriteScheduler.expectFirst). */
  private firstExpected: (() => void) | undefined;

  constructor(private readonly options: DiscordSinkOptions) {
    this.scheduler = options.scheduler ?? new WriteScheduler();
    // Discord shows typing for ~10 s: renewed until the first text is visible.
    this.typing = new TypingIndicator(() => options.target.sendTyping(), this.scheduler, options.logger, options.typingEveryMs ?? 8000, options.typingAfterMs ?? TYPING_AFTER_MS);
    const spacingMs = options.spacingMs ?? 1000;
    // Progress edits stretch while many answers stream at once; the final pass keeps the base pace.
    this.pacer = new Pacer(() => (this.done ? spacingMs : this.scheduler.editSpacing(spacingMs)));
    this.firstShowMs = options.firstShowMs ?? 1000;
    for (const message of options.existing ?? []) {
      this.posted.push(message);
      this.contents.push(message.content);
      // Whatever buttons it had: the final pass sets them again.
      this.rows.push('final');
    }
  }

  async start(info?: ReplyStartInfo): Promise<void> {
    this.answerId = info?.answerId;
    this.typing.start();
  }

  modelStarted(): void {
    if (!this.textShown && !this.done) this.firstExpected ??= this.scheduler.expectFirst();
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
        await this.post(THINKING, 'stop');
        this.typing.stop();
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
    this.typing.stop();
    this.firstExpected?.();
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.streamStop.abort();
    if (this.streamingCounted) this.scheduler.streaming(false);
    this.streamingCounted = false;
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
   * Shows the text so far, one write per turn: the part being written carries the cursor (or what
   * a running web tool is doing) and Stop; parts before it lose them once the text moves on. The
   * text is taken when the write's turn comes, so a write that waited for budget shows everything
   * written meanwhile. Parts of a regenerated answer beyond the new text stay until the final pass.
   */
  private async flush(): Promise<void> {
    if (this.done) return;
    const kind: WriteKind = this.textShown ? 'edit' : 'first';
    await this.pacer.run(async () => {
      const ticket = await this.scheduler.acquire(kind, [], this.streamStop.signal);
      if (ticket === undefined) return;
      try {
        await this.nextStreamingWrite()?.();
      } catch (error) {
        throw asPlatformError(error);
      } finally {
        ticket.done();
      }
    });
    if (!this.done && this.nextStreamingWrite() !== undefined) this.scheduleFlush();
  }

  /** The first write that brings the posted messages closer to the text so far, if one is due. */
  private nextStreamingWrite(): (() => Promise<void>) | undefined {
    const status = this.status;
    if (this.latest === '' && status === undefined) return undefined;
    const suffix = status === undefined ? CURSOR : `\n-# ${status}`;
    const parts = this.latest === '' ? [''] : splitMessage(toDiscordMarkdown(this.latest), DISCORD_LIMIT - suffix.length);
    for (let index = 0; index < parts.length; index += 1) {
      const part = parts[index] as string;
      const writing = index === parts.length - 1;
      const display = !writing ? part : part === '' && status !== undefined ? `-# ${status}` : `${part}${suffix}`;
      const row = this.rowFor(writing ? 'stop' : 'none');
      if (index >= this.posted.length) {
        return async () => {
          await this.sendPost(display, row);
          this.nowShowing(part);
        };
      }
      if (this.contents[index] !== display || this.rows[index] !== row) {
        return async () => {
          await this.sendEdit(index, display, row);
          this.nowShowing(part);
        };
      }
    }
    return undefined;
  }

  /** Something is visible: typing ends; once it is answer text, this answer streams edits. */
  private nowShowing(part: string): void {
    this.typing.stop();
    if (part === '' || this.textShown) return;
    this.textShown = true;
    this.firstExpected?.();
    if (!this.done && !this.streamingCounted) {
      this.streamingCounted = true;
      this.scheduler.streaming(true);
    }
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
        if (this.contents[index] !== part || this.rows[index] !== row) await this.edit(index, part, row);
      } else {
        await this.post(part, row);
      }
    }
    while (this.posted.length > parts.length) {
      const extra = this.posted.pop() as Message;
      this.rows.pop();
      this.contents.pop();
      await this.paced('final', () => extra.delete());
    }
  }

  /** A post or edit of the final pass: the first text when nothing shows yet, else the final text. */
  private finalKind(): WriteKind {
    return this.textShown ? 'final' : 'first';
  }

  private async post(content: string, row: ButtonRow): Promise<void> {
    await this.paced(this.finalKind(), () => this.sendPost(content, row));
  }

  private async edit(index: number, content: string, row: ButtonRow): Promise<void> {
    await this.paced(this.finalKind(), () => this.sendEdit(index, content, row));
  }

  private async sendPost(content: string, row: ButtonRow): Promise<void> {
    const first = this.posted.length === 0;
    const message = await this.options.target.send({
      content,
      components: answerComponents(row, this.answerId),
      allowedMentions: { parse: [], repliedUser: false },
      ...(first && this.options.replyTo !== undefined ? { reply: { messageReference: this.options.replyTo, failIfNotExists: false } } : {}),
    });
    this.posted.push(message);
    this.rows.push(this.rowFor(row));
    this.contents.push(content);
  }

  private async sendEdit(index: number, content: string, row: ButtonRow): Promise<void> {
    const message = this.posted[index] as Message;
    await message.edit({ content, components: answerComponents(row, this.answerId), allowedMentions: { parse: [], repliedUser: false } });
    this.rows[index] = this.rowFor(row);
    this.contents[index] = content;
  }

  /** Without an answer id (an apology, a limit notice) there is nothing for buttons to act on. */
  private rowFor(row: ButtonRow): ButtonRow {
    return this.answerId === undefined ? 'none' : row;
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
