/**
 * Answers in the playground: the "platform message" is an SSE stream to every open page. The
 * text streams as the model writes it; Stop aborts the model call through the sink's signal.
 */
import { randomUUID } from 'node:crypto';
import type { FinalReply, PostedIds, ReplySink } from '../../core/types.js';
import type { ErrorCode } from '../../errors.js';
import type { EventHub } from './events.js';

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
  readonly replyId = `r-${randomUUID()}`;
  readonly signal: AbortSignal;
  private lastText = '';
  private sentAt = 0;
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly hub: EventHub,
    private readonly active: ActiveReplies,
    private readonly threadId: string,
    private readonly replyTo: string,
  ) {
    this.signal = active.open(this.replyId).signal;
    // A stopped answer ends without finish or fail (the core stores nothing): the page keeps what it saw.
    this.signal.addEventListener('abort', () => {
      this.settle();
      this.hub.publish({ type: 'reply-done', threadId: this.threadId, replyId: this.replyId, text: this.lastText, note: 'Stopped.' });
    }, { once: true });
  }

  async start(): Promise<void> {
    this.hub.publish({ type: 'reply-start', threadId: this.threadId, replyId: this.replyId, replyTo: this.replyTo });
  }

  progress(textSoFar: string): void {
    if (textSoFar === this.lastText) return;
    this.lastText = textSoFar;
    if (this.pending !== undefined) return;
    const wait = this.sentAt + PROGRESS_INTERVAL_MS - performance.now();
    if (wait <= 0) return this.sendProgress();
    this.pending = setTimeout(() => this.sendProgress(), wait);
  }

  private sendProgress(): void {
    this.pending = undefined;
    this.sentAt = performance.now();
    this.hub.publish({ type: 'reply-progress', threadId: this.threadId, replyId: this.replyId, text: this.lastText });
  }

  /** The answer is over: no more progress, and Stop no longer applies. */
  private settle(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.active.close(this.replyId);
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    this.settle();
    this.hub.publish({ type: 'reply-done', threadId: this.threadId, replyId: this.replyId, text: reply.text, ...(reply.note === undefined ? {} : { note: reply.note }) });
    return [this.replyId];
  }

  async fail(userMessage: string, _code: ErrorCode): Promise<PostedIds> {
    this.settle();
    this.hub.publish({ type: 'reply-failed', threadId: this.threadId, replyId: this.replyId, text: userMessage });
    return [this.replyId];
  }
}
