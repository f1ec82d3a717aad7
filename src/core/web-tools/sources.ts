/**
 * Citations → the short numbered source list shown after an answer (issue #17): search results
 * the text cites, pages it cites from a fetch, then pages fetched but not cited (the answer rests
 * on them too). One entry per page, at most `MAX_SOURCES`. Links the model wrote into its text
 * are its own business and stay as they are.
 */
import type { ResponseBlock } from './content.js';
import { hostOf } from './content.js';
import type { Source } from './types.js';

export const MAX_SOURCES = 5;
const MAX_TITLE_CHARS = 90;

export function sourcesOf(blocks: readonly ResponseBlock[]): Source[] {
  const fetched: Source[] = [];
  for (const block of blocks) {
    if (block.type === 'web_fetch_tool_result' && block.content.type === 'web_fetch_result') {
      fetched.push({ url: block.content.url, title: block.content.content.title ?? '' });
    }
  }
  const cited: Source[] = [];
  for (const block of blocks) {
    if (block.type !== 'text') continue;
    for (const citation of block.citations ?? []) {
      if (citation.type === 'web_search_result_location') {
        cited.push({ url: citation.url, title: citation.title ?? '' });
      } else if (citation.type === 'char_location' || citation.type === 'page_location' || citation.type === 'content_block_location') {
        // Fetched pages are documents of the turn; a citation names its document by title and index.
        const byTitle = citation.document_title === null ? undefined : fetched.find((page) => page.title === citation.document_title);
        const page = byTitle ?? fetched[citation.document_index];
        if (page !== undefined) cited.push(page);
      }
    }
  }
  const seen = new Set<string>();
  const sources: Source[] = [];
  for (const source of [...cited, ...fetched]) {
    const key = urlKey(source.url);
    if (key === undefined || seen.has(key)) continue;
    seen.add(key);
    sources.push({ url: source.url, title: cleanTitle(source.title, source.url) });
    if (sources.length === MAX_SOURCES) break;
  }
  return sources;
}

/**
 * The list as stored with the answer and sent back to the model in later turns: plain Markdown,
 * the same entries people saw under the answer.
 */
export function withSourceList(text: string, sources: readonly Source[]): string {
  if (sources.length === 0) return text;
  return `${text.trimEnd()}\n\nSources:\n${sources.map((source, i) => `${i + 1}. ${source.title} (${source.url})`).join('\n')}`;
}

/** Same page, whatever the fragment, a trailing slash or the host's case; only http(s) pages count. */
function urlKey(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    parsed.hash = '';
    return `${parsed.host.toLowerCase().replace(/^www\./, '')}${parsed.pathname.replace(/\/+$/, '')}${parsed.search}`;
  } catch {
    return undefined;
  }
}

/** One short line: no newlines or link syntax from a page title, never empty. */
function cleanTitle(title: string, url: string): string {
  const flat = title.replace(/[\s]+/g, ' ').replace(/[[\]<>|`*_~]/g, '').trim();
  const chosen = flat === '' ? hostOf(url) : flat;
  return chosen.length <= MAX_TITLE_CHARS ? chosen : `${chosen.slice(0, MAX_TITLE_CHARS - 1).trimEnd()}…`;
}
