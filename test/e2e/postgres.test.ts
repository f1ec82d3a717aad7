/**
 * `npm start` on PostgreSQL (DATABASE_URL) against the loopback fakes: healthy with `db: ok`,
 * answers a mention with everything stored in PostgreSQL (no SQLite file appears), and after a
 * kill -9 mid-answer a restart answers the pending mention exactly once, once the dead process's
 * lease has run out.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/fake-discord.js';
import { TEST_API_KEY } from '../helpers/harness.js';
import { createTestDatabase, POSTGRES_SKIP_REASON, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { freePort } from '../slack/setup.js';
import { healthOf, startBot, type BotProcess } from './process.js';

describe.skipIf(TEST_DATABASE_URL === undefined)(`npm start on PostgreSQL${TEST_DATABASE_URL === undefined ? ` (${POSTGRES_SKIP_REASON})` : ''}`, () => {
  let database: TestDatabase;
  let dir: string;
  let anthropic: FakeAnthropic;
  let discord: FakeDiscord;
  let bots: BotProcess[];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  beforeEach(async () => {
    await database.reset();
    dir = mkdtempSync(join(tmpdir(), 'threadline-e2e-pg-'));
    anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY });
    discord = await startFakeDiscord();
    bots = [];
  });
  afterEach(async () => {
    for (const bot of bots) if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    await Promise.all(bots.map((bot) => bot.exited));
    await discord.close();
    await anthropic.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const envFor = (port: number) => ({
    ANTHROPIC_API_KEY: TEST_API_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    PORT: String(port),
    DATABASE_URL: database.url,
    DATABASE_PATH: join(dir, 'data', 'threadline.db'),
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.apiUrl,
    // A killed process's reply is taken over once its lease runs out: soon, for the test. Not
    // sooner: a replica posts only while its last renewal is under two thirds of a lease old, and
    // a full test run on two busy cores once delayed the restarted one's renewals past the 1.3 s
    // a 2 s lease leaves, so it gave up an answer it had already shown.
    REPLY_LEASE_SECONDS: '5',
  });

  async function rows<T>(sql: string): Promise<T[]> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  }

  it('becomes healthy, answers a mention, and keeps the thread in PostgreSQL', { timeout: 40_000 }, async () => {
    const general = discord.addTextChannel('general');
    const port = await freePort();
    const bot = startBot(envFor(port));
    bots.push(bot);
    await expect.poll(async () => (await healthOf(port))?.status, { timeout: 20_000 }).toBe(200);
    expect((await healthOf(port))?.body).toEqual({ ok: true, discord: 'ready', slack: 'off', db: 'ok' });
    const mention = discord.post(general.id, discord.user('100000000000000001', 'Alice'), discord.mention('hello from postgres'));
    await discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'the answer', { timeoutMs: 20_000 });
    await expect.poll(() => discord.botMessages(mention.id).map((m) => m.content), { timeout: 10_000 }).toEqual(['echo: hello from postgres']);
    await expect
      .poll(async () => (await rows<{ role: string; text: string }>('SELECT role, text FROM messages ORDER BY id')).map((row) => [row.role, row.text]), { timeout: 10_000 })
      .toEqual([
        ['user', expect.stringContaining('hello from postgres')],
        ['assistant', 'echo: hello from postgres'],
      ]);
    expect(await rows<{ state: string }>('SELECT state FROM reply_jobs')).toEqual([{ state: 'done' }]);
    bot.child.kill('SIGTERM');
    expect((await bot.exited).code).toBe(0);
    expect(existsSync(join(dir, 'data', 'threadline.db'))).toBe(false);
    expect(bot.output.join('')).not.toContain(discord.token);
  });

  it('after kill -9 in the middle of a reply, answers the pending mention exactly once on restart', { timeout: 60_000 }, async () => {
    const general = discord.addTextChannel('general');
    const port = await freePort();
    anthropic.enqueue({ text: 'Half an answer. never finished', stallAfterChars: 16, chunkSize: 16 });
    const first = startBot(envFor(port));
    bots.push(first);
    await expect.poll(async () => (await healthOf(port))?.status, { timeout: 20_000 }).toBe(200);
    const mention = discord.post(general.id, discord.user('100000000000000001', 'Alice'), discord.mention('survive a crash'));
    await expect.poll(() => discord.botMessages(mention.id).map((m) => m.content), { timeout: 10_000 }).toEqual([expect.stringMatching(/^Half an answer\./)]);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startBot(envFor(port));
    bots.push(second);
    await expect.poll(() => discord.botMessages(mention.id).map((m) => m.content), { timeout: 20_000 }).toEqual(['echo: survive a crash']);
    second.child.kill('SIGTERM');
    await second.exited;
    expect(discord.botMessages(mention.id)).toHaveLength(1);
    expect(await rows<{ state: string; attempts: number }>('SELECT state, attempts FROM reply_jobs')).toEqual([{ state: 'done', attempts: 1 }]);
  });
});
