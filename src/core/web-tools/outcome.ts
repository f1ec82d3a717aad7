/**
 * What a finished turn becomes for the user: the answer text, its sources, notes about searches
 * and fetches that failed, or, when the turn produced no text at all, a clear message instead
 * of silence. And what is stored: the text and its source list, never the tool blocks.
 */
import { hostOf, toolFailures, type ResponseBlock, type ToolFailure } from './content.js';
import { sourcesOf, withSourceList } from './sources.js';
import type { Source } from './types.js';

export interface TurnOutcome {
  readonly sources: readonly Source[];
  /** The answer as stored for later requests: what people saw, the source list included. */
  readonly storedText: string;
  /** One line per kind of tool failure, for under the answer. */
  readonly notes: readonly string[];
  /** For the user when the turn ended without any text. */
  readonly emptyMessage: string | undefined;
  /** The turn ran searches or fetches (its input tokens then include their results). */
  readonly usedTools: boolean;
}

const MAX_FAILURE_NOTES = 3;

export function turnOutcome(text: string, content: readonly ResponseBlock[], stopReason: string | null): TurnOutcome {
  const sources = sourcesOf(content);
  const failures = toolFailures(content);
  const lines = [...new Set(failures.map(describeFailure))].slice(0, MAX_FAILURE_NOTES);
  let emptyMessage: string | undefined;
  if (text.trim() === '') {
    if (stopReason === 'pause_turn') emptyMessage = 'Claude was still searching and reading when it ran out of steps for one answer. Please ask again, more narrowly.';
    else if (lines.length > 0) emptyMessage = `I could not answer: ${lines.map(lowerFirst).join(' ')}`;
  }
  return {
    sources,
    storedText: withSourceList(text, sources),
    notes: text.trim() === '' ? [] : lines,
    emptyMessage,
    usedTools: content.some((block) => block.type === 'server_tool_use'),
  };
}

/** One sentence per failure, naming the page where there is one; never the raw error code alone. */
export function describeFailure(failure: ToolFailure): string {
  if (failure.tool === 'web_search') {
    switch (failure.code) {
      case 'max_uses_exceeded':
        return 'Web search reached its limit of searches for one answer.';
      case 'too_many_requests':
        return 'Web search is rate limited right now; try again in a minute.';
      case 'query_too_long':
        return 'A web search query was too long.';
      case 'unavailable':
        return 'Web search is unavailable right now.';
      default:
        return `A web search failed (${failure.code}).`;
    }
  }
  const page = failure.url === undefined ? 'a page' : hostOf(failure.url);
  switch (failure.code) {
    case 'max_uses_exceeded':
      return 'Reading pages reached its limit for one answer.';
    case 'too_many_requests':
      return `Could not read ${page}: too many requests right now; try again in a minute.`;
    case 'url_not_accessible':
      return `Could not read ${page}: it could not be reached.`;
    case 'url_not_allowed':
      return `Could not read ${page}: that site is not allowed.`;
    case 'url_not_in_prior_context':
      return `Could not read ${page}: I can only open links posted in the conversation or found by a search.`;
    case 'unsupported_content_type':
      return `Could not read ${page}: only text, HTML and PDF pages can be read.`;
    case 'content_too_large':
      return `Could not read ${page}: it is too large.`;
    case 'url_too_long':
      return 'Could not read a link: it is longer than 250 characters.';
    case 'unavailable':
      return 'Reading web pages is unavailable right now.';
    default:
      return `Could not read ${page} (${failure.code}).`;
  }
}

function lowerFirst(sentence: string): string {
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
}
