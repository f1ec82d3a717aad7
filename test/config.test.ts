import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const ROOT = join(import.meta.dirname, '..');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

describe('config', () => {
  it('reports every problem at once, each naming its variable', () => {
    expect(problems({})).toEqual([
      'ANTHROPIC_API_KEY: required',
      'DISCORD_TOKEN or SLACK_BOT_TOKEN: connect a platform; with neither, only the local web playground runs',
    ]);
    expect(problems({ PLAYGROUND: 'off' })).toEqual([
      'ANTHROPIC_API_KEY: required',
      'DISCORD_TOKEN or SLACK_BOT_TOKEN: set at least one to run a platform adapter (or PLAYGROUND=on for the local web playground)',
    ]);
    const found = problems({ MAX_TOKENS: 'lots', PORT: '-1', DISCORD_API_URL: 'not a url', LOG_LEVEL: 'loud', FOLLOW_UP_WITHOUT_MENTION: 'maybe' });
    for (const name of ['MAX_TOKENS', 'PORT', 'DISCORD_API_URL', 'LOG_LEVEL', 'FOLLOW_UP_WITHOUT_MENTION']) {
      expect(found.some((line) => line.startsWith(`${name}:`)), name).toBe(true);
    }
  });

  it.each([
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, 'SLACK_SIGNING_SECRET'],
    [{ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xoxb-wrong' }, 'SLACK_APP_TOKEN'],
  ])('checks Slack mode requirements: %o → %s', (env, variable) => {
    expect(problems({ ANTHROPIC_API_KEY: 'k', ...env }).some((line) => line.startsWith(`${variable}:`))).toBe(true);
  });

  it('applies the documented defaults and freezes the result', () => {
    const config = loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't' });
    expect(config.anthropic.model).toBe('claude-opus-4-8');
    expect(config.anthropic.maxTokens).toBe(4096);
    expect(config.port).toBe(3000);
    expect(config.databasePath).toBe('./data/threadline.db');
    expect(config.logLevel).toBe('info');
    expect(config.followUpWithoutMention).toBe(true);
    expect(config.web).toMatchObject({ search: false, fetch: true });
    expect(config.slack).toBeUndefined();
    expect(Object.isFrozen(config.anthropic)).toBe(true);
  });

  it.each([
    [{}, { host: '127.0.0.1' }],
    [{ PLAYGROUND: 'auto', PLAYGROUND_HOST: '0.0.0.0' }, { host: '0.0.0.0' }],
    [{ DISCORD_TOKEN: 't' }, undefined],
    [{ DISCORD_TOKEN: 't', PLAYGROUND: 'on' }, { host: '127.0.0.1' }],
    [{ SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp-1', PLAYGROUND: 'on' }, { host: '127.0.0.1' }],
    [{ DISCORD_TOKEN: 't', PLAYGROUND: 'off' }, undefined],
  ])('PLAYGROUND: %o → %o', (env, expected) => {
    const config = loadConfig({ ANTHROPIC_API_KEY: 'k', DATABASE_PATH: '/tmp/x/db.sqlite', ...env });
    expect(config.playground === undefined ? undefined : { host: config.playground.host }).toEqual(expected);
    if (expected !== undefined) expect(config.playground?.uploadsDir).toBe('/tmp/x/playground-uploads');
  });

  it('refuses a bad PLAYGROUND value and a playground that would share the port with Slack HTTP mode', () => {
    expect(problems({ ANTHROPIC_API_KEY: 'k', PLAYGROUND: 'maybe' }).some((line) => line.startsWith('PLAYGROUND:'))).toBe(true);
    expect(problems({ ANTHROPIC_API_KEY: 'k', SLACK_BOT_TOKEN: 'xoxb', SLACK_SIGNING_SECRET: 's', PLAYGROUND: 'on' })).toEqual([
      'PLAYGROUND: the playground cannot share PORT with Slack HTTP mode; set PLAYGROUND=off or use Socket Mode (SLACK_APP_TOKEN)',
    ]);
  });

  it('parses lists and flags', () => {
    const config = loadConfig({ ANTHROPIC_API_KEY: 'k', SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp-1', SLACK_ADMIN_USER_IDS: 'U1, U2,,', FOLLOW_UP_WITHOUT_MENTION: 'false' });
    expect(config.slack?.adminUserIds).toEqual(['U1', 'U2']);
    expect(config.followUpWithoutMention).toBe(false);
    expect(loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', WEB_SEARCH: 'on', WEB_FETCH: 'OFF' }).web).toMatchObject({ search: true, fetch: false });
    expect(() => loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', WEB_SEARCH: 'sometimes' })).toThrow(/WEB_SEARCH: must be on or off/);
    expect(loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't' }).thinking).toBe('off');
    expect(loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', THINKING: 'xhigh' }).thinking).toBe('xhigh');
    expect(() => loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', THINKING: 'deep' })).toThrow(/THINKING:/);
  });

  it.each([
    [undefined, 'auto'],
    ['auto', 'auto'],
    ['AUTO', 'auto'],
    ['3', 3],
  ])('DISCORD_SHARD_COUNT=%s reads as %s', (value, expected) => {
    const env = { ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', ...(value === undefined ? {} : { DISCORD_SHARD_COUNT: value }) };
    expect(loadConfig(env).discord?.shardCount).toBe(expected);
  });

  it.each(['0', '-2', '1.5', 'many'])('DISCORD_SHARD_COUNT=%s is refused naming the variable', (value) => {
    expect(() => loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', DISCORD_SHARD_COUNT: value })).toThrow(/DISCORD_SHARD_COUNT: must be auto or a whole number/);
  });

  it('npm start with no variables exits 2 and names the missing ones', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'threadline-start-'));
    try {
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
      const result = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/main.ts')], { cwd, env, encoding: 'utf8', timeout: 30_000 });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('ANTHROPIC_API_KEY');
      expect(result.stderr).toContain('DISCORD_TOKEN or SLACK_BOT_TOKEN');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('config: web tools', () => {
  const base = { ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't' };
  it('fetch on, search off, five uses each and no search budget by default', () => {
    expect(loadConfig(base).web).toEqual({ fetch: true, search: false, fetchMaxUses: 5, searchMaxUses: 5, dailySearchBudget: 0 });
  });
  it('reads on/off and the limits', () => {
    const config = loadConfig({ ...base, WEB_FETCH: 'off', WEB_SEARCH: 'on', WEB_SEARCH_MAX_USES: '3', WEB_FETCH_MAX_USES: '8', DAILY_SEARCH_BUDGET: '500' });
    expect(config.web).toEqual({ fetch: false, search: true, fetchMaxUses: 8, searchMaxUses: 3, dailySearchBudget: 500 });
  });
  it('names each bad variable', () => {
    const found = problems({ ...base, WEB_FETCH: 'sometimes', WEB_SEARCH_MAX_USES: '0', DAILY_SEARCH_BUDGET: '-1' });
    for (const name of ['WEB_FETCH', 'WEB_SEARCH_MAX_USES', 'DAILY_SEARCH_BUDGET']) expect(found.some((line) => line.startsWith(`${name}:`)), name).toBe(true);
  });
});

describe('DATABASE_URL', () => {
  it('selects PostgreSQL when set; unset keeps SQLite at DATABASE_PATH', () => {
    expect(loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't' }).databaseUrl).toBeUndefined();
    expect(loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', DATABASE_URL: ' ' }).databaseUrl).toBeUndefined();
    for (const url of ['postgres://bot:pw@db:5432/threadline', 'postgresql://db/threadline?sslmode=require']) {
      expect(loadConfig({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('refuses another scheme, naming the variable but not the value (it holds a password)', () => {
    const found = problems({ ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't', DATABASE_URL: 'mysql://bot:hunter2@db/threadline' });
    expect(found).toEqual(['DATABASE_URL: must be a postgres:// or postgresql:// URL']);
  });

  it("DATABASE_SYNCHRONOUS_COMMIT: off by default (SQLite's durability), any level PostgreSQL knows, nothing else", () => {
    const base = { ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't' };
    expect(loadConfig(base).databaseSynchronousCommit).toBe('off');
    expect(loadConfig({ ...base, DATABASE_SYNCHRONOUS_COMMIT: '' }).databaseSynchronousCommit).toBe('off');
    for (const level of ['on', 'off', 'local', 'remote_write', 'remote_apply']) expect(loadConfig({ ...base, DATABASE_SYNCHRONOUS_COMMIT: level }).databaseSynchronousCommit).toBe(level);
    expect(problems({ ...base, DATABASE_SYNCHRONOUS_COMMIT: 'fast' })[0]).toMatch(/^DATABASE_SYNCHRONOUS_COMMIT:/);
  });
});

describe('REPLY_LEASE_SECONDS', () => {
  const base = { ANTHROPIC_API_KEY: 'k', DISCORD_TOKEN: 't' };
  it('is 30 s by default and read in seconds', () => {
    expect(loadConfig(base).replyLeaseMs).toBe(30_000);
    expect(loadConfig({ ...base, REPLY_LEASE_SECONDS: '2' }).replyLeaseMs).toBe(2000);
  });
  it.each(['0', '1.5', 'soon', '3601'])('refuses %s, naming the variable', (value) => {
    expect(problems({ ...base, REPLY_LEASE_SECONDS: value })).toEqual(['REPLY_LEASE_SECONDS: must be a whole number from 1 to 3600']);
  });
});
