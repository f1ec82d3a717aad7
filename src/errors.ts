/**
 * The one error type threadline throws on purpose. `code` is stable and machine-readable
 * (logs, tests, user-facing message lookup); `cause` keeps the original failure for the log.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'db_open_failed'
  | 'db_newer_version'
  | 'db_migration_failed'
  | 'model_refused'
  | 'model_overloaded'
  | 'model_rate_limited'
  | 'model_auth'
  | 'model_bad_request'
  | 'model_not_found'
  | 'model_unavailable'
  | 'model_timeout'
  | 'model_stalled'
  | 'platform_post_failed'
  | 'platform_forbidden'
  | 'input_invalid'
  | 'not_admin'
  | 'rate_limited'
  | 'budget_exhausted'
  | 'reply_expired'
  | 'reply_abandoned'
  | 'stopped_by_user'
  | 'shutting_down'
  | 'answers_off'
  | 'not_allowed'
  /**
   * Intake went ahead of what it could know (cache reads before the replica barrier, limits
   * counted with the row) and was wrong: it rolls back and runs again, in order.
   */
  | 'intake_redo';

export class ThreadlineError extends Error {
  readonly code: ErrorCode;
  /** Anthropic request id or platform request id, when one exists: operators grep for it. */
  readonly requestId: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; requestId?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ThreadlineError';
    this.code = code;
    this.requestId = options.requestId;
  }
}

export function isThreadlineError(value: unknown, code?: ErrorCode): value is ThreadlineError {
  return value instanceof ThreadlineError && (code === undefined || value.code === code);
}
