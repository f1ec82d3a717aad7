import { DiscordAPIError } from 'discord.js';
import { ThreadlineError } from '../../errors.js';

/** Missing Access, Missing Permissions, thread archived/locked, Unknown Channel. */
const FORBIDDEN_CODES = new Set([50001, 50013, 50083, 10003]);

/** A failed Discord call as the core understands it: forbidden here, or failed. */
export function asPlatformError(error: unknown): ThreadlineError {
  if (error instanceof ThreadlineError) return error;
  if (error instanceof DiscordAPIError && FORBIDDEN_CODES.has(Number(error.code))) {
    return new ThreadlineError('platform_forbidden', `Discord refused: ${error.message} (missing permissions in this channel?)`, { cause: error });
  }
  return new ThreadlineError('platform_post_failed', `Discord call failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
