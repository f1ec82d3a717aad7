/**
 * pino, with two guards for secrets: `redact` for the places secrets are known to sit
 * (authorization headers, token fields), and a last pass over every written line that replaces
 * the configured secret values wherever else they might have slipped in (an error message that
 * quotes a URL with a token, say).
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export interface LoggerOptions {
  readonly level: string;
  /** Values that must never appear in a log line. */
  readonly secrets: readonly (string | undefined)[];
  readonly destination?: DestinationStream;
}

const REDACT_PATHS = [
  'token',
  'apiKey',
  'authorization',
  '*.token',
  '*.apiKey',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'err.config.headers',
  'err.headers.authorization',
];

export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets.filter((secret): secret is string => secret !== undefined && secret.length >= 6);
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        streamWrite(line) {
          let clean = line;
          for (const secret of secrets) if (clean.includes(secret)) clean = clean.split(secret).join('[redacted]');
          return clean;
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
