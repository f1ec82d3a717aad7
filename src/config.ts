/**
 * The environment, read once. Every problem is collected and reported together, one line per
 * variable, so an operator fixes a broken deployment in one pass instead of one restart per typo.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { THINKING_SETTINGS, type ThinkingSetting } from './core/answer-controls/thinking.js';
import { ThreadlineError } from './errors.js';
import { DEFAULT_SYNCHRONOUS_COMMIT, SYNCHRONOUS_COMMIT_LEVELS, type SynchronousCommit } from './store/sql/postgres-pool.js';

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const optionalUrl = optionalString.refine(
  (value) => value === undefined || /^https?:\/\/[^\s]+$/.test(value),
  'must be an http(s) URL',
);

const booleanFlag = (fallback: boolean) =>
  optionalString.transform((value, ctx) => {
    if (value === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be true or false' });
    return z.NEVER;
  });

const integer = (fallback: number, min: number, max: number) =>
  optionalString.transform((value, ctx) => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return parsed;
  });

const onOff = (fallback: boolean) =>
  optionalString.transform((value, ctx) => {
    if (value === undefined) return fallback;
    if (/^(on|true|1|yes)$/i.test(value)) return true;
    if (/^(off|false|0|no)$/i.test(value)) return false;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be on or off' });
    return z.NEVER;
  });

const idList = optionalString.transform((value) =>
  value === undefined ? [] : value.split(',').map((id) => id.trim()).filter((id) => id !== ''),
);

const envSchema = z.object({
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
  ANTHROPIC_MODEL: optionalString.transform((value) => value ?? 'claude-opus-4-8'),
  MAX_TOKENS: integer(4096, 1, 128_000),
  DISCORD_TOKEN: optionalString,
  DISCORD_API_URL: optionalUrl,
  DISCORD_GUILD_ID: optionalString,
  DISCORD_HISTORY_LIMIT: integer(500, 0, 10_000),
  DISCORD_SHARD_COUNT: optionalString.transform((value, ctx) => {
    if (value === undefined || value.toLowerCase() === 'auto') return 'auto' as const;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > 4096) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be auto or a whole number from 1 to 4096' });
      return z.NEVER;
    }
    return parsed;
  }),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_API_URL: optionalUrl,
  SLACK_ADMIN_USER_IDS: idList,
  SLACK_HISTORY_LIMIT: integer(1000, 0, 10_000),
  FOLLOW_UP_WITHOUT_MENTION: booleanFlag(true),
  PORT: integer(3000, 0, 65_535),
  DATABASE_PATH: optionalString.transform((value) => value ?? './data/threadline.db'),
  // The message names the form only: the value holds a password.
  DATABASE_URL: optionalString.refine((value) => value === undefined || /^postgres(ql)?:\/\/\S+$/.test(value), 'must be a postgres:// or postgresql:// URL'),
  DATABASE_SYNCHRONOUS_COMMIT: z
    .enum(SYNCHRONOUS_COMMIT_LEVELS)
    .optional()
    .or(z.literal('').transform(() => undefined))
    .transform((value) => value ?? DEFAULT_SYNCHRONOUS_COMMIT),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .optional()
    .or(z.literal('').transform(() => undefined))
    .transform((value) => value ?? 'info'),
  CONTEXT_BUDGET_TOKENS: integer(150_000, 1_000, 2_000_000),
  THINKING: z
    .enum(THINKING_SETTINGS)
    .optional()
    .or(z.literal('').transform(() => undefined))
    .transform((value) => value ?? 'off'),
  MODEL_IDLE_TIMEOUT_MS: integer(60_000, 1_000, 600_000),
  MODEL_MAX_RETRIES: integer(2, 0, 10),
  RATE_LIMIT_USER_PER_MINUTE: integer(6, 0, 10_000),
  RATE_LIMIT_CHANNEL_PER_MINUTE: integer(30, 0, 10_000),
  DAILY_TOKEN_BUDGET: integer(0, 0, 1_000_000_000_000),
  MAX_CONCURRENT_REPLIES: integer(64, 1, 1000),
  PENDING_REPLY_MAX_AGE_MINUTES: integer(30, 1, 10_080),
  REPLY_LEASE_SECONDS: integer(30, 1, 3_600),
  RETENTION_DAYS: integer(90, 1, 36_500),
  WEB_SEARCH: onOff(false),
  WEB_FETCH: onOff(true),
  PLAYGROUND: z
    .enum(['auto', 'on', 'off'])
    .optional()
    .or(z.literal('').transform(() => undefined))
    .transform((value) => value ?? 'auto'),
  PLAYGROUND_HOST: optionalString.transform((value) => value ?? '127.0.0.1'),
  WEB_FETCH_MAX_USES: integer(5, 1, 50),
  WEB_SEARCH_MAX_USES: integer(5, 1, 50),
  DAILY_SEARCH_BUDGET: integer(0, 0, 10_000_000),
});

type Env = z.infer<typeof envSchema>;

export interface Config {
  readonly anthropic: {
    readonly apiKey: string;
    readonly baseUrl: string | undefined;
    readonly model: string;
    readonly maxTokens: number;
    readonly maxRetries: number;
    readonly idleTimeoutMs: number;
    readonly contextBudgetTokens: number;
  };
  readonly discord:
    | {
        readonly token: string;
        readonly apiUrl: string | undefined;
        readonly guildId: string | undefined;
        readonly historyLimit: number;
        /** Gateway shards in all (split among the replicas); `auto`: Discord's recommendation (`GET /gateway/bot`). */
        readonly shardCount: number | 'auto';
      }
    | undefined;
  readonly slack:
    | {
        readonly botToken: string;
        readonly appToken: string | undefined;
        readonly signingSecret: string | undefined;
        readonly apiUrl: string | undefined;
        readonly adminUserIds: readonly string[];
        readonly historyLimit: number;
      }
    | undefined;
  readonly limits: {
    /** Answers per user per minute; 0 turns the limit off. */
    readonly userPerMinute: number;
    readonly channelPerMinute: number;
    /** Tokens per server/workspace per UTC day; 0 turns the budget off. */
    readonly dailyTokenBudget: number;
    readonly maxConcurrentReplies: number;
  };
  /** Mentions still unanswered after a restart are answered if younger than this, else apologized for. */
  readonly pendingReplyMaxAgeMs: number;
  /** A reply whose replica stopped renewing its lease is taken over by another after this (PostgreSQL). */
  readonly replyLeaseMs: number;
  readonly retentionDays: number;
  readonly followUpWithoutMention: boolean;
  /**
   * Defaults of the `web_search` and `web_fetch` settings (admins change them with /settings), the
   * uses one answer may make of each, and web searches per server/workspace per UTC day (0: no budget).
   */
  readonly web: {
    readonly search: boolean;
    readonly fetch: boolean;
    readonly searchMaxUses: number;
    readonly fetchMaxUses: number;
    readonly dailySearchBudget: number;
  };
  /** THINKING: `off`, or the adaptive-thinking effort on models that have it. */
  readonly thinking: ThinkingSetting;
  readonly port: number;
  /** The local web playground (a third adapter), served on `port` at `host`; undefined when off. */
  readonly playground: { readonly host: string; readonly uploadsDir: string } | undefined;
  readonly databasePath: string;
  /** Set: PostgreSQL at this URL (holds a password: never log it); unset: SQLite at `databasePath`. */
  readonly databaseUrl: string | undefined;
  /** DATABASE_SYNCHRONOUS_COMMIT: PostgreSQL's `synchronous_commit` for the bot's sessions (default `off`, SQLite's durability). */
  readonly databaseSynchronousCommit: SynchronousCommit;
  readonly logLevel: Env['LOG_LEVEL'];
}

/** Thrown with every problem found; `problems` holds one line per variable. */
export class ConfigError extends ThreadlineError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('config_invalid', `invalid configuration:\n${problems.join('\n')}`);
    this.problems = problems;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  if (e.ANTHROPIC_API_KEY === undefined) problems.push('ANTHROPIC_API_KEY: required');
  const noPlatform = e.DISCORD_TOKEN === undefined && e.SLACK_BOT_TOKEN === undefined;
  const playgroundOn = e.PLAYGROUND === 'on' || (e.PLAYGROUND === 'auto' && noPlatform);
  if (noPlatform && !playgroundOn) {
    problems.push('DISCORD_TOKEN or SLACK_BOT_TOKEN: set at least one to run a platform adapter (or PLAYGROUND=on for the local web playground)');
  } else if (noPlatform && e.ANTHROPIC_API_KEY === undefined) {
    // A newcomer with nothing set learns both ways to run it.
    problems.push('DISCORD_TOKEN or SLACK_BOT_TOKEN: connect a platform; with neither, only the local web playground runs');
  }
  if (playgroundOn && e.SLACK_BOT_TOKEN !== undefined && e.SLACK_APP_TOKEN === undefined) {
    problems.push('PLAYGROUND: the playground cannot share PORT with Slack HTTP mode; set PLAYGROUND=off or use Socket Mode (SLACK_APP_TOKEN)');
  }
  if (e.SLACK_BOT_TOKEN !== undefined && e.SLACK_APP_TOKEN === undefined && e.SLACK_SIGNING_SECRET === undefined) {
    problems.push('SLACK_SIGNING_SECRET: required for Slack HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  }
  if (e.SLACK_APP_TOKEN !== undefined && !e.SLACK_APP_TOKEN.startsWith('xapp-')) {
    problems.push('SLACK_APP_TOKEN: must be an app-level token starting with xapp-');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    anthropic: {
      apiKey: e.ANTHROPIC_API_KEY as string,
      baseUrl: e.ANTHROPIC_BASE_URL,
      model: e.ANTHROPIC_MODEL,
      maxTokens: e.MAX_TOKENS,
      maxRetries: e.MODEL_MAX_RETRIES,
      idleTimeoutMs: e.MODEL_IDLE_TIMEOUT_MS,
      contextBudgetTokens: e.CONTEXT_BUDGET_TOKENS,
    },
    discord:
      e.DISCORD_TOKEN === undefined
        ? undefined
        : { token: e.DISCORD_TOKEN, apiUrl: e.DISCORD_API_URL, guildId: e.DISCORD_GUILD_ID, historyLimit: e.DISCORD_HISTORY_LIMIT, shardCount: e.DISCORD_SHARD_COUNT },
    slack:
      e.SLACK_BOT_TOKEN === undefined
        ? undefined
        : {
            botToken: e.SLACK_BOT_TOKEN,
            appToken: e.SLACK_APP_TOKEN,
            signingSecret: e.SLACK_SIGNING_SECRET,
            apiUrl: e.SLACK_API_URL,
            adminUserIds: e.SLACK_ADMIN_USER_IDS,
            historyLimit: e.SLACK_HISTORY_LIMIT,
          },
    limits: {
      userPerMinute: e.RATE_LIMIT_USER_PER_MINUTE,
      channelPerMinute: e.RATE_LIMIT_CHANNEL_PER_MINUTE,
      dailyTokenBudget: e.DAILY_TOKEN_BUDGET,
      maxConcurrentReplies: e.MAX_CONCURRENT_REPLIES,
    },
    pendingReplyMaxAgeMs: e.PENDING_REPLY_MAX_AGE_MINUTES * 60_000,
    replyLeaseMs: e.REPLY_LEASE_SECONDS * 1000,
    retentionDays: e.RETENTION_DAYS,
    followUpWithoutMention: e.FOLLOW_UP_WITHOUT_MENTION,
    web: {
      search: e.WEB_SEARCH,
      fetch: e.WEB_FETCH,
      searchMaxUses: e.WEB_SEARCH_MAX_USES,
      fetchMaxUses: e.WEB_FETCH_MAX_USES,
      dailySearchBudget: e.DAILY_SEARCH_BUDGET,
    },
    thinking: e.THINKING,
    port: e.PORT,
    playground: playgroundOn ? { host: e.PLAYGROUND_HOST, uploadsDir: join(dirname(e.DATABASE_PATH), 'playground-uploads') } : undefined,
    databasePath: e.DATABASE_PATH,
    databaseUrl: e.DATABASE_URL,
    databaseSynchronousCommit: e.DATABASE_SYNCHRONOUS_COMMIT,
    logLevel: e.LOG_LEVEL,
  };
  return deepFreeze(config);
}

/** `.env` in the working directory, when present; real environment variables win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
