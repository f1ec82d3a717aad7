/**
 * Anthropic SDK failures → one ThreadlineError code each, and the sentence a user sees for it.
 * The sentences never contain a key, a URL or a stack trace; the log line carries the detail and
 * the request id, which the sentence points to when an operator needs it.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ThreadlineError, type ErrorCode } from '../errors.js';

export function toModelError(error: unknown): ThreadlineError {
  if (error instanceof ThreadlineError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new ThreadlineError('model_timeout', 'Claude did not answer in time', { cause: error });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new ThreadlineError('model_unavailable', 'cannot reach the Messages API', { cause: error });
  }
  if (error instanceof Anthropic.APIError) {
    const requestId = error.requestID ?? undefined;
    const detail = `${error.status ?? 'stream'} ${error.type ?? 'error'}: ${error.apiMessage ?? error.message}`;
    const code = codeFor(error.status, error.type);
    return new ThreadlineError(code, `Messages API error ${detail}`, { cause: error, ...(requestId === undefined ? {} : { requestId }) });
  }
  return new ThreadlineError('model_unavailable', `model call failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function codeFor(status: number | undefined, type: string | null): ErrorCode {
  if (type === 'overloaded_error' || status === 529) return 'model_overloaded';
  if (type === 'rate_limit_error' || status === 429) return 'model_rate_limited';
  if (type === 'authentication_error' || type === 'permission_error' || type === 'billing_error' || status === 401 || status === 403 || status === 402) {
    return 'model_auth';
  }
  if (type === 'not_found_error' || status === 404) return 'model_not_found';
  if (type === 'timeout_error' || status === 504) return 'model_timeout';
  if (type === 'invalid_request_error' || type === 'request_too_large' || status === 400 || status === 413) return 'model_bad_request';
  return 'model_unavailable';
}

export interface RefusalDetails {
  readonly category: string | null;
  readonly explanation: string | null;
}

const REFUSAL_TOPICS: Record<string, string> = {
  cyber: 'it touches on cybersecurity misuse',
  bio: 'it touches on biological or chemical risks',
  frontier_llm: 'it concerns building or attacking AI systems',
  reasoning_extraction: 'it asks for internal reasoning that is not shared',
  general_harms: 'it could cause harm',
};

export function refusalMessage(details: RefusalDetails | null): string {
  const topic = details?.category ? REFUSAL_TOPICS[details.category] : undefined;
  const why = details?.explanation?.trim() ? ` ${details.explanation.trim()}` : '';
  return topic === undefined
    ? `Sorry, I can't help with that request.${why}`
    : `Sorry, I can't help with that request because ${topic}.${why}`;
}

export function userMessageFor(error: ThreadlineError, modelId: string): string {
  const ref = error.requestId === undefined ? '' : ` (request id ${error.requestId})`;
  switch (error.code) {
    case 'model_overloaded':
      return 'Claude is overloaded right now and I could not get an answer. Please try again in a minute.';
    case 'model_rate_limited':
      return 'This bot has hit its Claude rate limit. Please try again in a minute.';
    case 'model_auth':
      return `I can't use Claude right now: the bot's API credentials were rejected. An admin needs to check the bot's configuration${ref}.`;
    case 'model_not_found':
      return `The configured model \`${modelId}\` is not available. An admin needs to change ANTHROPIC_MODEL${ref}.`;
    case 'model_bad_request':
      return `Claude could not accept this conversation as sent${ref}. An admin can find the details in the bot's logs.`;
    case 'model_timeout':
    case 'model_stalled':
      return 'Claude took too long to answer, so I stopped waiting. Please try again.';
    case 'model_unavailable':
      return 'I could not reach Claude just now. Please try again in a moment.';
    default:
      return `Something went wrong while answering${ref}. Please try again.`;
  }
}
