/**
 * Reading a reply's content blocks (anthropic-api-rules.md §14): the text people see, what the
 * server tools are doing, which searches and fetches failed, and what the text cites. Pure, so
 * every shape of answer is a table test.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { ToolActivity } from './types.js';

export type ResponseBlock = Anthropic.Messages.ContentBlock;

export interface ToolFailure {
  readonly tool: 'web_search' | 'web_fetch';
  readonly code: string;
  /** The URL a failed fetch asked for, when known. */
  readonly url?: string;
}

/**
 * The answer's text: its text blocks in order. Blocks that follow each other directly are one
 * piece of prose (an answer split where its citations change); text on the far side of a tool
 * call starts a new paragraph, so "Let me look that up." and the answer do not run together.
 */
export function textOfBlocks(blocks: readonly TextualBlock[]): string {
  let state = NO_TEXT;
  for (const block of blocks) state = withBlock(state, block);
  return state.text;
}

type TextualBlock = { readonly type: string; readonly text?: string };

/** The text of the blocks read so far, and whether a non-text block came after it. */
export interface TextSoFar {
  readonly text: string;
  readonly afterOther: boolean;
}

export const NO_TEXT: TextSoFar = { text: '', afterOther: false };

/** `state` with one more block read (textOfBlocks, one step). */
export function withBlock(state: TextSoFar, block: TextualBlock): TextSoFar {
  if (block.type !== 'text') return state.afterOther ? state : { text: state.text, afterOther: true };
  const piece = block.text ?? '';
  if (piece === '') return state;
  return { text: state.afterOther && state.text !== '' ? `${state.text.trimEnd()}\n\n${piece.trimStart()}` : state.text + piece, afterOther: false };
}

/** The activity a finished `server_tool_use` block starts, or undefined for other blocks. */
export function activityOf(block: ResponseBlock): ToolActivity | undefined {
  if (block.type !== 'server_tool_use') return undefined;
  const input = (block.input ?? {}) as { query?: unknown; url?: unknown };
  if (block.name === 'web_search') return { kind: 'search', query: typeof input.query === 'string' ? input.query : '' };
  if (block.name === 'web_fetch') return { kind: 'fetch', url: typeof input.url === 'string' ? input.url : '' };
  return undefined;
}

/** Searches and fetches that came back as errors (inside an HTTP 200), in order. */
export function toolFailures(blocks: readonly ResponseBlock[]): ToolFailure[] {
  const urls = new Map<string, string>();
  const failures: ToolFailure[] = [];
  for (const block of blocks) {
    if (block.type === 'server_tool_use') {
      const url = (block.input as { url?: unknown } | null)?.url;
      if (typeof url === 'string') urls.set(block.id, url);
    } else if (block.type === 'web_search_tool_result' && !Array.isArray(block.content) && block.content.type === 'web_search_tool_result_error') {
      failures.push({ tool: 'web_search', code: block.content.error_code });
    } else if (block.type === 'web_fetch_tool_result' && block.content.type === 'web_fetch_tool_result_error') {
      const url = urls.get(block.tool_use_id);
      failures.push({ tool: 'web_fetch', code: block.content.error_code, ...(url === undefined ? {} : { url }) });
    }
  }
  return failures;
}

/** The host of a URL for "reading example.com…", or the URL itself when it does not parse. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host.replace(/^www\./, '');
  } catch {
    return url;
  }
}
