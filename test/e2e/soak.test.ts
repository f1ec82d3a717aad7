/**
 * Issue 9's scripted run, through `npm start`'s entry point as one process serving Discord and
 * Slack (HTTP) at once: 200 mentions, Slack retries and double deliveries, three bursts of 529
 * Overloaded, one dropped gateway connection, and one kill -9 with replies in flight and Slack
 * events sent while the bot is down. Every mention must get exactly one answer, its own.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic, type ScriptedReply } from '../fakes/anthropic.js';
import { startFakeDiscord, type FakeDiscord, type FakeUser } from '../fakes/discord/fake-discord.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/fake-slack.js';
import { TEST_API_KEY } from '../helpers/harness.js';
import { freePort } from '../slack/setup.js';
import { healthOf, startBot, type BotProcess } from './process.js';

/** Each burst fits in the retry allowance: even a request that meets all of it still succeeds. */
const RETRIES = 6;
const burst = (): ScriptedReply[] => Array.from({ length: RETRIES }, () => ({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded', headers: { 'retry-after-ms': '20' } }));

type Mention =
  /** A mention in a channel (answered in a new thread, id = message = thread), or a follow-up inside such a thread. */
  | { readonly platform: 'discord'; readonly id: string; readonly text: string; readonly inThread?: string }
  | { readonly platform: 'slack'; readonly channel: string; readonly ts: string; readonly text: string };

describe('a scripted day of trouble', () => {
  let dir: string;
  let anthropic: FakeAnthropic;
  let discord: FakeDiscord;
  let slack: FakeSlack;
  const bots: BotProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-soak-'));
    anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY });
    discord = await startFakeDiscord();
    slack = await startFakeSlack();
  });
  afterAll(async () => {
    for (const bot of bots) if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    await Promise.all(bots.map((bot) => bot.exited));
    await Promise.all([anthropic.close(), discord.close(), slack.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers each of 200 mentions exactly once through retries, 529s, a gateway drop and kill -9', { timeout: 240_000 }, async () => {
    const port = await freePort();
    const databasePath = join(dir, 'threadline.db');
    const env = {
      ANTHROPIC_API_KEY: TEST_API_KEY,
      ANTHROPIC_BASE_URL: anthropic.url,
      PORT: String(port),
      DATABASE_PATH: databasePath,
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: slack.apiUrl,
      MODEL_MAX_RETRIES: String(RETRIES),
      // Limits are tested elsewhere; here every mention must reach the model.
      RATE_LIMIT_USER_PER_MINUTE: '0',
      RATE_LIMIT_CHANNEL_PER_MINUTE: '0',
    };
    const eventsUrl = `http://127.0.0.1:${port}/slack/events`;
    const channels = [discord.addTextChannel('general'), discord.addTextChannel('support'), discord.addTextChannel('random')];
    const people: FakeUser[] = [discord.user('100000000000000001', 'Alice'), discord.user('100000000000000002', 'Bob'), discord.user('100000000000000003', 'Carol')];
    const slackPeople = ['U0ALICE001', 'U0BOB00001'];
    const mentions: Mention[] = [];
    /** Slack deliveries that found the bot down, to be retried the way Slack does. */
    const undelivered: Array<{ body: string; retryNum: number }> = [];

    const start = async () => {
      const bot = startBot(env);
      bots.push(bot);
      await expect.poll(async () => (await healthOf(port))?.body, { timeout: 30_000 }).toEqual({ ok: true, discord: 'ready', slack: 'ready', db: 'ok' });
      return bot;
    };
    const mentionOnDiscord = (n: number) => {
      const text = `discord question ${n}`;
      const message = discord.post(channels[n % channels.length]!.id, people[n % people.length]!, discord.mention(text));
      mentions.push({ platform: 'discord', id: message.id, text });
    };
    const send = async (body: string, retryNum: number) => {
      try {
        const response = await slack.sendHttp(eventsUrl, body, retryNum === 0 ? {} : { retryNum });
        expect(response.status).toBe(200);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // fetch failed: nobody listening
        undelivered.push({ body, retryNum: retryNum + 1 });
      }
    };
    /** A mention as Slack delivers it: app_mention plus the message echo, and sometimes retries on top. */
    const mentionOnSlack = (n: number) => {
      const text = `slack question ${n}`;
      const user = slackPeople[n % slackPeople.length]!;
      const message = slack.seed('C0GENERAL1', user, `<@${slack.botUserId}> ${text}`);
      mentions.push({ platform: 'slack', channel: 'C0GENERAL1', ts: message.ts, text });
      const event = { type: 'app_mention', user, text: message.text, ts: message.ts, channel: 'C0GENERAL1', team: slack.team };
      const mention = JSON.stringify(slack.envelopeFor(event, `EvSoakMention${n}`));
      const echo = JSON.stringify(slack.envelopeFor({ ...event, type: 'message', channel_type: 'channel' }, `EvSoakEcho${n}`));
      const deliveries = [send(mention, 0), send(echo, 0)];
      if (n % 3 === 0) deliveries.push(send(mention, 1));
      return Promise.all(deliveries);
    };
    const answersTo = (mention: Mention) => {
      if (mention.platform === 'slack') return slack.botMessages(mention.channel, mention.ts).map((m) => m.text);
      // The first answer in a new thread stands alone; answers to follow-ups reply to them.
      if (mention.inThread === undefined) return discord.botMessages(mention.id).filter((m) => m.message_reference === undefined).map((m) => m.content);
      return discord.botMessages(mention.inThread).filter((m) => m.message_reference?.message_id === mention.id).map((m) => m.content);
    };
    const storedMentionIds = () => {
      const db = new Database(databasePath, { readonly: true, fileMustExist: true });
      try {
        return new Set((db.prepare("SELECT platform_message_id AS id FROM messages WHERE role = 'user'").all() as Array<{ id: string }>).map((row) => row.id));
      } finally {
        db.close();
      }
    };
    let discordCount = 0;
    let slackCount = 0;
    const batch = async (onDiscord: number, onSlack: number) => {
      const slackDeliveries: Array<Promise<unknown>> = [];
      for (let i = 0; i < Math.max(onDiscord, onSlack); i += 1) {
        if (i < onDiscord) mentionOnDiscord((discordCount += 1));
        if (i < onSlack) slackDeliveries.push(mentionOnSlack((slackCount += 1)));
      }
      await Promise.all(slackDeliveries);
    };

    const first = await start();

    // Morning: a burst of 529s while the first mentions come in.
    anthropic.enqueue(...burst());
    await batch(30, 30);

    // The gateway connection drops; mentions sent meanwhile are replayed on RESUME.
    const since = discord.gateway.length;
    discord.dropConnection();
    await batch(10, 0);
    await discord.gateway.waitFor((e) => e.kind === 'resume', 'RESUME after the drop', { since, timeoutMs: 20_000 });

    // Noon: a second burst, more mentions, and three replies hang mid-call when the process dies.
    anthropic.enqueue(...burst(), ...Array.from({ length: 3 }, () => ({ text: 'never finished', stallAfterChars: 0 })));
    await batch(20, 20);
    await expect.poll(() => anthropic.queued(), { timeout: 30_000 }).toBe(0);
    const sentBeforeCrash = mentions.map((m) => (m.platform === 'discord' ? m.id : m.ts));
    await expect.poll(() => sentBeforeCrash.filter((id) => !storedMentionIds().has(id)), { timeout: 30_000 }).toEqual([]);
    first.child.kill('SIGKILL');
    await first.exited;

    // While the bot is down, Slack keeps sending; those deliveries fail and Slack retries them later.
    await batch(0, 20);
    // On Discord, people follow up in threads the bot answered; nobody delivers that to a dead
    // process, so the next start must read those threads back and answer.
    for (const [k, mention] of mentions.filter((m) => m.platform === 'discord').slice(0, 5).entries()) {
      const text = `discord follow-up ${k}`;
      const message = discord.seed(mention.id, people[k % people.length]!, text);
      mentions.push({ platform: 'discord', id: message.id, text, inThread: mention.id });
    }
    expect(undelivered.length).toBeGreaterThanOrEqual(40);

    // Afternoon: a third burst meets the restart and the replies it resumes.
    anthropic.enqueue(...burst());
    const second = await start();
    await Promise.all(undelivered.splice(0).map(({ body, retryNum }) => send(body, retryNum)));
    await batch(25, 40);

    expect(mentions).toHaveLength(200);
    await expect
      .poll(() => mentions.filter((mention) => answersTo(mention).length !== 1).map((m) => m.text), { timeout: 90_000, interval: 200 })
      .toEqual([]);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    // Nothing arrived late: still exactly one answer each, and each answers its own question.
    const wrong = mentions.filter((mention) => {
      const answers = answersTo(mention);
      // A follow-up in a thread with two people in it is named: "echo: Bob: …".
      return answers.length !== 1 || !(answers[0] === `echo: ${mention.text}` || (mention.platform === 'discord' && mention.inThread !== undefined && answers[0]?.endsWith(`: ${mention.text}`)));
    });
    expect(wrong.map((mention) => ({ question: mention.text, answers: answersTo(mention) }))).toEqual([]);
    expect(anthropic.messageRequests().filter((r) => r.status === 529).length).toBe(3 * RETRIES);
    const logs = bots.map((bot) => bot.output.join('')).join('');
    for (const secret of [discord.token, slack.botToken, slack.signingSecret, TEST_API_KEY]) expect(logs).not.toContain(secret);
  });
});
