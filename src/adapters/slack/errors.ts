import { ThreadlineError } from '../../errors.js';

/** The `error` code of a failed Slack Web API call (`not_in_channel`, `ratelimited`, …), through a wrapping ThreadlineError. */
export function slackError(error: unknown): string | undefined {
  if (error instanceof ThreadlineError) return slackError(error.cause);
  const data = (error as { data?: { error?: string } } | undefined)?.data;
  return data?.error;
}

/** A failed Slack call as the core understands it: forbidden here, or failed. */
export function asSlackPlatformError(error: unknown): ThreadlineError {
  const code = slackError(error);
  return new ThreadlineError(code === 'not_in_channel' || code === 'channel_not_found' ? 'platform_forbidden' : 'platform_post_failed', `Slack call failed: ${code ?? String(error)}`, { cause: error });
}
