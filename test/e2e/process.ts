/** Runs the bot as `npm start` does (tsx src/main.ts) in a child process, with a given environment. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface BotProcess {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every setting, empty: a developer's own `.env` (which never overrides set variables) cannot leak into a test. */
const BLANK = Object.fromEntries(
  ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_MODEL', 'DISCORD_TOKEN', 'DISCORD_API_URL', 'DISCORD_GUILD_ID', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_API_URL', 'SLACK_ADMIN_USER_IDS', 'DATABASE_PATH', 'DATABASE_URL', 'PORT', 'PLAYGROUND', 'PLAYGROUND_HOST', 'DISCORD_SHARD_COUNT', 'REPLY_LEASE_SECONDS'].map((name) => [name, '']),
);

/** One process, like `npm start` (node with the tsx loader): a kill -9 really kills the bot. */
export function startBot(env: Record<string, string>, cwd: string = ROOT): BotProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...BLANK, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

export async function healthOf(port: number): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: response.status, body: await response.json() };
  } catch {
    return undefined;
  }
}
