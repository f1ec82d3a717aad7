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

export class WebReplySink implements ReplySink {
  readonly replyId = `r-${randomUUID()}`;
  readonly signal: AbortSignal;
  private lastText = '';

  constructor(
    private readonly hub: EventHub,
    private readonly active: ActiveReplies,
    private readonly threadId: string,
    private readonly replyTo: string,
  ) {
    this.signal = active.open(this.replyId).signal;
    // A stopped answer ends without finish or fail (the core stores nothing): the page keeps what it saw.
    this.signal.addEventListener('abort', () => {
      this.active.close(this.replyId);
      this.hub.publish({ type: 'reply-done', threadId: this.threadId, replyId: this.replyId, text: this.lastText, note: 'Stopped.' });
    }, { once: true });
  }

  async start(): Promise<void> {
    this.hub.publish({ type: 'reply-start', threadId: this.threadId, replyId: this.replyId, replyTo: this.replyTo });
  }

  progress(textSoFar: string): void {
    if (textSoFar === this.lastText) return;
    this.lastText = textSoFar;
    this.hub.publish({ type: 'reply-progress', threadId: this.threadId, replyId: this.replyId, text: textSoFar });
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    this.active.close(this.replyId);
    this.hub.publish({ type: 'reply-done', threadId: this.threadId, replyId: this.replyId, text: reply.text, ...(reply.note === undefined ? {} : { note: reply.note }) });
    return [this.replyId];
  }

  async fail(userMessage: string, _code: ErrorCode): Promise<PostedIds> {
    this.active.close(this.replyId);
    this.hub.publish({ type: 'reply-failed', threadId: this.threadId, replyId: this.replyId, text: userMessage });
    return [this.replyId];
  }
}
