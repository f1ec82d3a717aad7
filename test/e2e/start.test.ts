/**
 * The whole bot as operators run it: `npm start`'s entry point in its own process, configured
 * only by environment variables, against the loopback fakes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/fake-discord.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/fake-slack.js';
import { TEST_API_KEY } from '../helpers/harness.js';
import { freePort } from '../slack/setup.js';
import { healthOf, startBot, type BotProcess } from './process.js';

describe('npm start', () => {
  let dir: string;
  let anthropic: FakeAnthropic;
  let bots: BotProcess[];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-e2e-'));
    anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY });
    bots = [];
  });
  afterEach(async () => {
    for (const bot of bots) if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    await Promise.all(bots.map((bot) => bot.exited));
    await anthropic.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const baseEnv = (port: number) => ({
    ANTHROPIC_API_KEY: TEST_API_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    PORT: String(port),
    DATABASE_PATH: join(dir, 'data', 'threadline.db'),
  });

  describe('with Discord', () => {
    let discord: FakeDiscord;
    beforeEach(async () => {
      discord = await startFakeDiscord();
    });
    afterEach(async () => discord.close());

    it('becomes healthy, answers a mention, and exits cleanly on SIGTERM', async () => {
      const general = discord.addTextChannel('general');
      const port = await freePort();
      const bot = startBot({ ...baseEnv(port), DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl });
      bots.push(bot);
      await expect.poll(async () => (await healthOf(port))?.status, { timeout: 15_000 }).toBe(200);
      expect((await healthOf(port))?.body).toEqual({ ok: true, discord: 'ready', slack: 'off', db: 'ok' });
      const mention = discord.post(general.id, discord.user('100000000000000001', 'Alice'), discord.mention('hello from e2e'));
      await discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'the answer', { timeoutMs: 15_000 });
      bot.child.kill('SIGTERM');
      expect((await bot.exited).code).toBe(0);
      expect(bot.output.join('')).not.toContain(discord.token);
      expect(bot.output.join('')).not.toContain(TEST_API_KEY);
    });

    it('after kill -9 in the middle of a reply, answers the pending mention exactly once on restart', { timeout: 60_000 }, async () => {
      const general = discord.addTextChannel('general');
      const port = await freePort();
      const env = { ...baseEnv(port), DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl };
      anthropic.enqueue({ text: 'Half an answer. never finished', stallAfterChars: 16, chunkSize: 16 });
      const first = startBot(env);
      bots.push(first);
      await expect.poll(async () => (await healthOf(port))?.status, { timeout: 15_000 }).toBe(200);
      const mention = discord.post(general.id, discord.user('100000000000000001', 'Alice'), discord.mention('survive a crash'));
      // The first sentence is on screen when the process dies.
      await expect.poll(() => discord.botMessages(mention.id).map((m) => m.content), { timeout: 10_000 }).toEqual([expect.stringMatching(/^Half an answer\./)]);
      first.child.kill('SIGKILL');
      await first.exited;

      const second = startBot(env);
      bots.push(second);
      await discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'the answer after restart', { timeoutMs: 20_000 });
      // The half answer left behind is gone: one answer, the whole one.
      await expect.poll(() => discord.botMessages(mention.id).map((m) => m.content), { timeout: 10_000 }).toEqual(['echo: survive a crash']);
      second.child.kill('SIGTERM');
      await second.exited;
      expect(discord.botMessages(mention.id)).toHaveLength(1);
      expect(discord.rest.entries.filter((r) => r.method === 'DELETE' && r.path.startsWith(`/channels/${mention.id}/messages/`))).toHaveLength(1);
    });

    it('on SIGTERM finishes the reply in flight before it exits', { timeout: 30_000 }, async () => {
      const general = discord.addTextChannel('general');
      const port = await freePort();
      const text = 'First sentence arrives. The rest takes a while to come, but it does come.';
      anthropic.enqueue({ text, chunkSize: 8, chunkDelayMs: 100 });
      const bot = startBot({ ...baseEnv(port), DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl });
      bots.push(bot);
      await expect.poll(async () => (await healthOf(port))?.status, { timeout: 15_000 }).toBe(200);
      const mention = discord.post(general.id, discord.user('100000000000000001', 'Alice'), discord.mention('take your time'));
      await expect.poll(() => discord.botMessages(mention.id).length, { timeout: 10_000 }).toBe(1);
      bot.child.kill('SIGTERM');
      expect((await bot.exited).code).toBe(0);
      expect(discord.botMessages(mention.id).map((m) => m.content)).toEqual([text]);
    });

    it('exits with a clear message when the database is from a newer version', async () => {
      const { Store } = await import('../../src/store/index.js');
      const path = join(dir, 'data', 'threadline.db');
      const store = await Store.open({ databasePath: path });
      await store.close();
      const BetterSqlite3 = (await import('better-sqlite3')).default;
      const db = new BetterSqlite3(path);
      db.pragma('user_version = 99');
      db.close();
      const bot = startBot({ ...baseEnv(await freePort()), DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl });
      bots.push(bot);
      expect((await bot.exited).code).toBe(1);
      expect(bot.output.join('')).toMatch(/schema version 99/);
    });

    it('exits with a clear message when Discord rejects the token', async () => {
      const bot = startBot({ ...baseEnv(await freePort()), DISCORD_TOKEN: 'wrong-token', DISCORD_API_URL: discord.apiUrl });
      bots.push(bot);
      expect((await bot.exited).code).toBe(1);
      expect(bot.output.join('')).toMatch(/Discord login failed \(check DISCORD_TOKEN\)/);
    });
  });

  describe.each(['socket', 'http'] as const)('with Slack in %s mode', (mode) => {
    let slack: FakeSlack;
    beforeEach(async () => {
      slack = await startFakeSlack();
    });
    afterEach(async () => slack.close());

    const slackEnv = (port: number) => ({
      ...baseEnv(port),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_API_URL: slack.apiUrl,
      ...(mode === 'socket' ? { SLACK_APP_TOKEN: slack.appToken } : { SLACK_SIGNING_SECRET: slack.signingSecret }),
    });

    it('becomes healthy and answers a mention delivered three times exactly once', async () => {
      const port = await freePort();
      const env = slackEnv(port);
      const bot = startBot(env);
      bots.push(bot);
      await expect.poll(async () => (await healthOf(port))?.status, { timeout: 15_000 }).toBe(200);
      const message = slack.seed('C0GENERAL1', 'U0ALICE001', `<@${slack.botUserId}> once only`);
      const body = slack.envelopeFor({ type: 'app_mention', user: 'U0ALICE001', text: message.text, ts: message.ts, channel: 'C0GENERAL1' }, 'EvE2E0001');
      for (const retry of [undefined, 1, 2]) {
        if (mode === 'http') {
          const response = await slack.sendHttp(`http://127.0.0.1:${port}/slack/events`, JSON.stringify(body), retry === undefined ? {} : { retryNum: retry });
          expect(response.status).toBe(200);
        } else {
          const id = slack.sendSocket('events_api', body, retry ?? 0);
          await slack.socketFrames.waitFor((f) => f.kind === 'ack' && f.envelopeId === id, 'ack');
        }
      }
      await expect.poll(() => slack.botMessages('C0GENERAL1', message.ts).map((m) => m.text), { timeout: 15_000 }).toEqual(['echo: once only']);
      expect(anthropic.messageRequests()).toHaveLength(1);
      bot.child.kill('SIGTERM');
      expect((await bot.exited).code).toBe(0);
      // A full run's logs carry no secret.
      const logs = bot.output.join('');
      for (const secret of [slack.botToken, slack.appToken, slack.signingSecret, TEST_API_KEY]) expect(logs).not.toContain(secret);
    });

    it('after kill -9 with half an answer streamed, replaces it with one whole answer on restart', { timeout: 60_000 }, async () => {
      const port = await freePort();
      const env = slackEnv(port);
      anthropic.enqueue({ text: 'Half an answer. never finished', stallAfterChars: 16, chunkSize: 16 });
      const first = startBot(env);
      bots.push(first);
      await expect.poll(async () => (await healthOf(port))?.status, { timeout: 15_000 }).toBe(200);
      const message = slack.seed('C0GENERAL1', 'U0ALICE001', `<@${slack.botUserId}> survive a crash`);
      const body = slack.envelopeFor({ type: 'app_mention', user: 'U0ALICE001', text: message.text, ts: message.ts, channel: 'C0GENERAL1' }, 'EvE2ECRASH');
      if (mode === 'http') expect((await slack.sendHttp(`http://127.0.0.1:${port}/slack/events`, JSON.stringify(body))).status).toBe(200);
      else slack.sendSocket('events_api', body);
      await expect.poll(() => slack.botMessages('C0GENERAL1', message.ts).map((m) => m.text), { timeout: 10_000 }).toEqual([expect.stringMatching(/^Half an answer\./)]);
      first.child.kill('SIGKILL');
      await first.exited;

      const second = startBot(env);
      bots.push(second);
      await expect.poll(() => slack.botMessages('C0GENERAL1', message.ts).map((m) => m.text), { timeout: 20_000 }).toEqual(['echo: survive a crash']);
      second.child.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
      expect(slack.botMessages('C0GENERAL1', message.ts)).toHaveLength(1);
    });
  });
});
