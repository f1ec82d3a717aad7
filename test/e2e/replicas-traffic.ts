/**
 * The people of the replicas test: they mention the bot in Slack and Discord threads and the
 * record of what they asked is what every answer is checked against. A thread's mentions are
 * asked one after another (Slack: once the previous event is acked; Discord: keeping at most a
 * few unanswered), so several wait in a thread at once and their order matters.
 */
import { expect } from 'vitest';
import type { FakeDiscord, FakeUser } from '../fakes/discord/fake-discord.js';
import type { FakeSlack } from '../fakes/slack/fake-slack.js';
import type { ReplicaWorld } from './replicas-world.js';

export const SLACK_CHANNEL = 'C0GENERAL1';

/** One mention as asked: its thread (`slack:<parent ts>` or `discord:<thread id>`), its text and message id. */
export interface Asked {
  readonly thread: string;
  readonly text: string;
  readonly id: string;
}

export class Traffic {
  readonly asked: Asked[] = [];

  constructor(
    private readonly world: ReplicaWorld,
    private readonly slack: FakeSlack,
    private readonly discord: FakeDiscord,
  ) {}

  /** A Slack thread of `count` mentions by one person, each sent once the previous one is acked. */
  async slackThread(label: string, user: string, count: number): Promise<void> {
    const { slack } = this;
    let parentTs: string | undefined;
    for (let k = 0; k < count; k += 1) {
      const text = `${label} question ${k}`;
      const message = slack.seed(SLACK_CHANNEL, user, `<@${slack.botUserId}> ${text}`, parentTs === undefined ? {} : { thread_ts: parentTs });
      parentTs ??= message.ts;
      const event = { type: 'app_mention', user, text: message.text, ts: message.ts, channel: SLACK_CHANNEL, team: slack.team, ...(k === 0 ? {} : { thread_ts: parentTs }) };
      this.asked.push({ thread: `slack:${parentTs}`, text, id: message.ts });
      // Some are delivered twice (the ack reached Slack late), some also as message.channels.
      const result = await this.world.delivery.deliver(event, { duplicate: k % 3 === 1 });
      if (result.acked === undefined) throw new Error(`Slack gave up on ${text}: ${JSON.stringify(result.attempts)}`);
      if (k % 4 === 2) await this.world.delivery.deliver({ ...event, type: 'message', channel_type: 'channel' });
    }
  }

  /**
   * A mention in a Discord channel: the bot opens a thread on it; resolves with the thread's id
   * once the mention is answered there (the follow-ups then wait behind that answer, not the
   * answer behind them).
   */
  async discordThread(label: string, channelId: string, user: FakeUser): Promise<string> {
    const text = `${label} question 0`;
    const first = this.discord.post(channelId, user, this.discord.mention(text));
    this.asked.push({ thread: `discord:${first.id}`, text, id: first.id });
    await expect.poll(() => this.answersIn(`discord:${first.id}`).length, { timeout: 30_000, interval: 50 }).toBeGreaterThan(0);
    return first.id;
  }

  /**
   * `count` more mentions in a Discord thread, each posted while at most `backlog` earlier ones
   * wait for their answer: the thread keeps asking through the faults, never far ahead.
   */
  async discordFollowUps(label: string, threadId: string, user: FakeUser, count: number, backlog = 2, timeout = 60_000): Promise<void> {
    const thread = `discord:${threadId}`;
    for (let k = 1; k <= count; k += 1) {
      const waiting = () => this.asked.filter((a) => a.thread === thread).length - this.answersIn(thread).length;
      await expect.poll(waiting, { timeout, interval: 50, message: `${thread} stalled` }).toBeLessThanOrEqual(backlog);
      const text = `${label} question ${k}`;
      const message = this.discord.post(threadId, user, this.discord.mention(text));
      this.asked.push({ thread, text, id: message.id });
    }
  }

  answersIn(thread: string): string[] {
    const [platform, id] = thread.split(':') as [string, string];
    if (platform === 'slack') return this.slack.botMessages(SLACK_CHANNEL, id).map((m) => m.text);
    return this.discord.botMessages(id).map((m) => m.content);
  }

  expected(thread: string): string[] {
    return this.asked.filter((a) => a.thread === thread).map((a) => `echo: ${a.text}`);
  }

  /** Waits until every thread shows one answer per mention, in order (the database check finds any extra). */
  async everyMentionAnswered(timeout: number): Promise<void> {
    const threads = [...new Set(this.asked.map((a) => a.thread))];
    const unfinished = () => threads.filter((t) => JSON.stringify(this.answersIn(t)) !== JSON.stringify(this.expected(t)));
    try {
      await expect.poll(() => unfinished().length, { timeout, interval: 200 }).toBe(0);
    } finally {
      for (const thread of unfinished()) expect(this.answersIn(thread), `${thread}\n${await this.whatHappened(thread)}`).toEqual(this.expected(thread));
    }
  }

  /** For a failure message: the thread's rows and jobs, how its Slack events were delivered, the logs. */
  async whatHappened(thread: string): Promise<string> {
    const [, threadKey] = thread.split(':') as [string, string];
    const rows = await this.world
      .rows(
        `SELECT m.id, m.platform_message_id, m.role, left(m.text, 40) AS text, m.reply_to_message_id, j.id AS job, j.state, j.attempts, j.lease_owner, j.lease_turn, j.created_at AS job_created, j.updated_at AS job_updated
           FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN reply_jobs j ON j.message_id = m.id
          WHERE c.thread_key LIKE $1 ORDER BY m.id`,
        [`%${threadKey}`],
      )
      .catch((error: unknown) => [String(error)]);
    const ids = new Set(this.asked.filter((a) => a.thread === thread).map((a) => a.id));
    const attempts = this.world.delivery.attempts.entries.filter((x) => ids.has(x.ts ?? ''));
    return [JSON.stringify(rows), JSON.stringify(attempts), this.world.logs().slice(-8000)].join('\n');
  }
}
