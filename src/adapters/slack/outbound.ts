/**
 * One answer in a Slack thread: a status while the model thinks, the text streamed with
 * chat.startStream / appendStream / stopStream (or, where streaming is unavailable, a message
 * updated at most once a second), and a final pass that makes the thread's messages say exactly
 * the answer, as `markdown` blocks with a mrkdwn fallback, split below Slack's limits. Every
 * write waits for Slack's budget for its method and channel in the adapter's WriteScheduler, first
 * texts before final texts before status signs before progress.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { ErrorCode } from '../../errors.js';
import { WriteScheduler, type WriteKind } from '../../core/concurrency/write-scheduler.js';
import { Pacer } from '../../core/pacer.js';
import { splitMessage } from '../../core/text/split.js';
import type { FinalReply, PostedIds, ReplySink, ReplyStartInfo, ToolActivity } from '../../core/types.js';
import { controlBlocks, type SlackButtonRow } from './buttons.js';
import { activityStatus, neutralizeSlackPings, toSlackMrkdwn, withSlackSources } from './markdown.js';
import { asSlackPlatformError, slackError } from './errors.js';
import { slackBudgets } from './write-budgets.js';

/** The markdown block takes 12,000 characters; leave room for the note. */
export const SLACK_PART_LIMIT = 11_000;
const THINKING_REACTION = 'hourglass_flowing_sand';
/** Outside assistant threads: what a running web tool adds to the question. */
const TOOL_REACTIONS = { search: 'mag', fetch: 'page_facing_up' } as const;

export interface SlackSinkOptions {
  readonly client: webApi.WebClient;
  readonly channel: string;
  readonly threadTs: string;
  /** The message being answered (for the fallback reaction). */
  readonly messageTs: string;
  readonly teamId: string;
  readonly userId: string;
  readonly isDirect: boolean;
  readonly logger: Logger;
  readonly spacingMs?: number;
  /** The messages of an answer being regenerated (their ts, first first): updated in place. */
  readonly existing?: readonly string[];
  /** The app's write budget, shared by all answers (default: unlimited). */
  readonly scheduler?: WriteScheduler;
}

interface Posted {
  ts: string;
  shown: string;
  row: SlackButtonRow;
}

export class SlackReplySink implements ReplySink {
  private readonly stop = new AbortController();
  readonly signal = this.stop.signal;
  private readonly posted: Posted[] = [];
  private latest = '';
  private streamTs: string | undefined;
  /** Characters of `latest` already sent into the open stream. */
  private streamed = 0;
  private streamBase = 0;
  private streaming: 'unknown' | 'native' | 'fallback' = 'unknown';
  private reacted = false;
  private readonly toolReactions = new Set<string>();
  /** Tool reactions on their way: removed only once they are there. */
  private readonly addingReactions: Promise<unknown>[] = [];
  private usedStatus = false;
  private readonly pacer: Pacer;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private done = false;
  private answerId: string | undefined;
  private readonly scheduler: WriteScheduler;
  /** Aborted once the answer is complete: a progress write still waiting for budget is pointless then. */
  private readonly streamStop = new AbortController();

  constructor(private readonly options: SlackSinkOptions) {
    this.pacer = new Pacer(options.spacingMs ?? 1000);
    this.scheduler = options.scheduler ?? new WriteScheduler();
    if (options.existing !== undefined && options.existing.length > 0) {
      // A regeneration writes into messages that exist: update them rather than open a stream.
      this.streaming = 'fallback';
      for (const ts of options.existing) this.posted.push({ ts, shown: '', row: 'final' });
    }
  }

  async start(info?: ReplyStartInfo): Promise<void> {
    this.answerId = info?.answerId;
    const { client, channel, threadTs, messageTs } = this.options;
    try {
      await this.write('assistant.threads.setStatus', 'typing', () => client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: 'is thinking…' }));
      this.usedStatus = true;
    } catch {
      // Not an assistant thread: a reaction on the question says "working on it" instead.
      try {
        await this.write('reactions.add', 'typing', () => client.reactions.add({ channel, timestamp: messageTs, name: THINKING_REACTION }));
        this.reacted = true;
      } catch (error) {
        this.options.logger.debug({ err: error }, 'could not show a working status');
      }
    }
  }

  /**
   * A web search or fetch is running: the assistant status says so (it clears when the answer is
   * posted). Outside assistant threads the question gets a reaction for it next to the hourglass.
   */
  activity(activity: ToolActivity): void {
    if (this.done) return;
    const { client, channel, threadTs, messageTs, logger } = this.options;
    if (this.usedStatus) {
      this.write('assistant.threads.setStatus', 'typing', () => client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: activityStatus(activity) }))
        .catch((error: unknown) => logger.debug({ err: error }, 'could not show the web tool status'));
      return;
    }
    const name = TOOL_REACTIONS[activity.kind];
    if (!this.reacted || this.toolReactions.has(name)) return;
    this.toolReactions.add(name);
    this.addingReactions.push(
      this.write('reactions.add', 'typing', () => client.reactions.add({ channel, timestamp: messageTs, name })).catch((error: unknown) => {
        this.toolReactions.delete(name);
        logger.debug({ err: error }, 'could not show the web tool reaction');
      }),
    );
  }

  progress(textSoFar: string): void {
    this.latest = textSoFar;
    if (this.done || this.flushTimer !== undefined) return;
    const wait = this.posted.length === 0 ? 0 : Math.max(0, this.pacer.readyAt() - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.flush()).catch((error: unknown) => this.options.logger.warn({ err: error }, 'streaming update failed'));
    }, wait);
  }

  async finish(reply: FinalReply): Promise<PostedIds> {
    await this.settle();
    const body = neutralizeSlackPings(withSlackSources(reply.text, reply.sources ?? []));
    const full = reply.note === undefined ? body : `${body}\n\n_${reply.note}_`;
    await this.reconcile(splitMessage(full, SLACK_PART_LIMIT), 'final');
    await this.clearStatus();
    return this.posted.map((p) => p.ts);
  }

  async fail(userMessage: string, _code: ErrorCode): Promise<PostedIds> {
    await this.settle();
    await this.reconcile([`:warning: ${userMessage}`], 'none');
    await this.clearStatus();
    return this.posted.map((p) => p.ts);
  }

  private async settle(): Promise<void> {
    this.done = true;
    this.streamStop.abort();
    clearTimeout(this.flushTimer);
    await this.flushing;
    if (this.streamTs !== undefined) await this.stopStream();
  }

  private async flush(): Promise<void> {
    if (this.done || this.latest === '') return;
    if (this.streaming !== 'fallback') {
      if (await this.flushStream()) return;
    }
    // Fallback: one message per part, updated at most once per spacing; the part being written has Stop.
    const parts = splitMessage(neutralizeSlackPings(this.latest), SLACK_PART_LIMIT);
    for (let i = 0; i < parts.length && !this.done; i += 1) await this.show(i, parts[i] as string, false, i === parts.length - 1 ? 'stop' : 'none');
  }

  /** Appends to the native stream; false when streaming is not available (use the fallback). */
  private async flushStream(): Promise<boolean> {
    const { client, channel, threadTs, teamId, userId, isDirect } = this.options;
    try {
      if (this.streamTs === undefined) {
        const text = neutralizeSlackPings(this.latest.slice(this.streamBase));
        const started = await this.paced('chat.startStream', this.posted.length === 0 ? 'first' : 'edit', () =>
          client.chat.startStream({
            channel,
            thread_ts: threadTs,
            markdown_text: text,
            ...(isDirect ? {} : { recipient_team_id: teamId, recipient_user_id: userId }),
          }),
        );
        this.streaming = 'native';
        this.streamTs = String(started.ts);
        this.streamed = this.latest.length;
        this.posted.push({ ts: this.streamTs, shown: text, row: 'none' });
        return true;
      }
      const delta = this.latest.slice(this.streamed);
      if (delta === '') return true;
      if (this.latest.length - this.streamBase > SLACK_PART_LIMIT) {
        // This message is full: close it and continue in a new one.
        await this.stopStream();
        this.streamBase = this.streamed;
        return this.flushStream();
      }
      const sent = await this.pacedProgress('chat.appendStream', () => client.chat.appendStream({ channel, ts: this.streamTs as string, markdown_text: neutralizeSlackPings(delta) }));
      if (sent) this.streamed = this.latest.length;
      return true;
    } catch (error) {
      const code = slackError(error);
      if (code === 'stopped_by_user') {
        this.done = true;
        this.stop.abort();
        return true;
      }
      if (this.streaming === 'native' && code === 'message_not_in_streaming_state') {
        this.streamTs = undefined;
        this.streamBase = this.streamed;
        return this.flushStream();
      }
      if (this.streaming === 'unknown') {
        this.options.logger.info({ error: code }, 'chat streaming unavailable; updating a message instead');
        this.streaming = 'fallback';
        return false;
      }
      throw error;
    }
  }

  private async stopStream(): Promise<void> {
    const ts = this.streamTs;
    this.streamTs = undefined;
    if (ts === undefined) return;
    try {
      await this.paced('chat.stopStream', 'final', () => this.options.client.chat.stopStream({ channel: this.options.channel, ts }));
    } catch (error) {
      this.options.logger.debug({ err: error }, 'chat.stopStream failed');
    }
  }

  /** Makes the thread's bot messages exactly `parts`; the last carries `lastRow`'s buttons. */
  private async reconcile(parts: readonly string[], lastRow: SlackButtonRow): Promise<void> {
    for (let i = 0; i < parts.length; i += 1) await this.show(i, parts[i] as string, true, i === parts.length - 1 ? lastRow : 'none');
    while (this.posted.length > parts.length) {
      const extra = this.posted.pop() as Posted;
      await this.paced('chat.delete', 'final', () => this.options.client.chat.delete({ channel: this.options.channel, ts: extra.ts }));
    }
  }

  private async show(index: number, part: string, final: boolean, wanted: SlackButtonRow): Promise<void> {
    const { client, channel, threadTs } = this.options;
    const row = this.answerId === undefined ? 'none' : wanted;
    const message = { text: toSlackMrkdwn(part), blocks: [{ type: 'markdown', text: part }, ...controlBlocks(row, this.answerId)] };
    const existing = this.posted[index];
    if (existing === undefined) {
      const kind: WriteKind = this.posted.length === 0 ? 'first' : final ? 'final' : 'edit';
      const result = await this.paced('chat.postMessage', kind, () => client.chat.postMessage({ channel, thread_ts: threadTs, ...message, unfurl_links: false, unfurl_media: false }));
      this.posted.push({ ts: String(result.ts), shown: part, row });
    } else if (existing.shown !== part || existing.row !== row || final) {
      if (existing.shown === part && existing.row === row && this.streaming !== 'native') return;
      await this.paced('chat.update', final ? 'final' : 'edit', () => client.chat.update({ channel, ts: existing.ts, ...message }));
      existing.shown = part;
      existing.row = row;
    }
  }

  private async clearStatus(): Promise<void> {
    const { client, channel, threadTs, messageTs } = this.options;
    if (this.usedStatus) await this.write('assistant.threads.setStatus', 'final', () => client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: '' })).catch(() => undefined);
    if (this.reacted) await this.write('reactions.remove', 'final', () => client.reactions.remove({ channel, timestamp: messageTs, name: THINKING_REACTION })).catch(() => undefined);
    await Promise.allSettled(this.addingReactions);
    for (const name of this.toolReactions) await this.write('reactions.remove', 'final', () => client.reactions.remove({ channel, timestamp: messageTs, name })).catch(() => undefined);
  }

  /** One write within Slack's budget for its method and channel. */
  private async write<T>(method: string, kind: WriteKind, call: () => Promise<T>): Promise<T> {
    // Without a signal the scheduler always sends the write.
    return (await this.scheduler.run(kind, call, slackBudgets(method, this.options.teamId, this.options.channel))) as T;
  }

  /** A progress write, skipped (false) when the answer completes while it waits for budget. */
  private async pacedProgress(method: string, call: () => Promise<unknown>): Promise<boolean> {
    return this.paced(method, 'edit', async () => {
      const ticket = await this.scheduler.acquire('edit', slackBudgets(method, this.options.teamId, this.options.channel), this.streamStop.signal);
      if (ticket === undefined) return false;
      try {
        await call();
        return true;
      } finally {
        ticket.done();
      }
    }, false);
  }

  private async paced<T>(method: string, kind: WriteKind, call: () => Promise<T>, budgeted = true): Promise<T> {
    try {
      return await this.pacer.run(budgeted ? () => this.write(method, kind, call) : call);
    } catch (error) {
      const code = slackError(error);
      if (code === 'message_not_in_streaming_state' || code === 'stopped_by_user') throw error;
      throw asSlackPlatformError(error);
    }
  }

}
