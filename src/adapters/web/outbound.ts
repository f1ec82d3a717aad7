/**
 * Answers in the playground: the "platform message" is an SSE stream to every open page. The
 * text streams as the model writes it; Stop aborts the model call through the sink's signal. A
 * regeneration streams under the old answer's reply id, so pages rewrite that answer in place.
 */
import { randomUUID } from 'node:crypto';
import type { FinalReply, PostedIds, ReplySink, ReplyStartInfo, Source, ToolActivity } from '../../core/types.js';
import type { ErrorCode } from '../../errors.js';
import { answerControlIds, type AnswerControlIds } from './controls.js';
import type { EventHub } from './events.js';
import { activityLine } from '../../core/web-tools/activity.js';

/** Answers streaming now, by reply id: what the Stop button aborts. */
export class ActiveReplies {
  private readonly controllers = new Map<string, AbortController>();

  open(replyId: string): AbortController {
    const controller = new AbortController();
    this.controllers.set(replyId, controller);
    return controller;
  }

  close(replyId: string): void {
    this.controllers.delete(replyId);
  }

  /** False when no such answer is streaming (finished already, or never was). */
  stop(replyId: string): boolean {
    const controller = this.controllers.get(replyId);
    if (controller === undefined) return false;
    controller.abort();
    return true;
  }
}

/**
 * Each progress event carries the whole text so far (a page that connects mid-answer needs no
 * history), so they are sent at most this often: a long answer does not resend itself per token.
 */
const PROGRESS_INTERVAL_MS = 50;

export class WebReplySink implements ReplySink {
  readonly replyId: string;
  readonly signal: AbortSignal;
  private lastText = '';
  private status: string | undefined;
  private sentAt = 0;
  private pending: NodeJS.Timeout | undefined;
  private controls: AnswerControlIds | undefined;

  /** `replacing`: the reply id of the answer a regeneration rewrites (kept, so pages and the store edit it in place). */
  constructor(
    private readonly hub: EventHub,
    private readonly active: ActiveReplies,
    private readonly threadId: string,
    private readonly replyTo: string,
    private readonly replacing?: string,
  ) {
    this.replyId = replacing ?? `r-${randomUUID()}`;
    this.signal = active.open(this.replyId).signal;
    // The core ends a stopped answer with finish (its partial text, marked stopped) or fail; until then no more progress.
    this.signal.addEventListener('abort', () => this.settle(), { once: true });
  }

  async start(info?: ReplyStartInfo): Promise<void> {
    this.controls = info?.answerId === undefined ? undefined : answerControlIds(info.answerId);
    this.hub.publish({
      type: 'reply-start',
      threadId: this.threadId,
      replyId: this.replyId,
      replyTo: this.replyTo,
      ...(this.replacing === undefined ? {} : { replaces: true as const }),
    });
  }

  progress(textSoFar: string): void {
    if (textSoFar === this.lastText) return;
    this.lastText = textSoFar;
    this.status = undefined;
    if (this.pending !== undefined) return;
    const wait = this.sentAt + PROGRESS_INTERVAL_MS - performance.now();
    if (wait <= 0) return this.sendProgress();
    this.pending = setTimeout(() => this.sendProgress(), wait);
  }

  /** A web search or fetch started: shown under the text so far until more text comes. */
  activity(activity: ToolActivity): void {
    this.status = activityLine(activity);
    clearTimeout(this.pending);
    this.sendProgress();
  }

  private sendProgress(): void {
    this.pending = undefined;
    this.sentAt = performance.now();
    const text = this.status === undefined ? this.lastText : `${this.lastText}\n\n*${this.status}*`.trimStart();
    this.hub.publish({ type: 'reply-progress', threadId: this.threadId, replyId: this.replyId, text });
  }

  /** The answer is over: no more progress, and Stop no longer applies. */
  private settle(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.active.close(this.replyId);
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    this.settle();
    const text = withWebSources(reply.text, reply.sources ?? []);
    this.hub.publish({
      type: 'reply-done',
      threadId: this.threadId,
      replyId: this.replyId,
      text,
      ...(reply.note === undefined ? {} : { note: reply.note }),
      ...(this.controls === undefined ? {} : { controls: this.controls }),
    });
    return [this.replyId];
  }

  async fail(userMessage: string, _code: ErrorCode): Promise<PostedIds> {
    this.settle();
    this.hub.publish({ type: 'reply-failed', threadId: this.threadId, replyId: this.replyId, text: userMessage });
    return [this.replyId];
  }
}

/** The numbered source list under an answer, as Markdown links (the page renders them safely). */
export function withWebSources(text: string, sources: readonly Source[]): string {
  if (sources.length === 0) return text;
  const lines = sources.map((source, i) => `${i + 1}. [${source.title}](${source.url.replace(/[()\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)})`);
  return `${text.trimEnd()}\n\nSources:\n${lines.join('\n')}`;
}
