/**
 * The server tools a request carries (anthropic-api-rules.md §14). The plain `web_search_20250305`
 * and `web_fetch_20250910` versions work on every model that has the tools; the 2026 versions
 * need programmatic tool calling or `allowed_callers` and bring nothing a chat answer needs.
 *
 * Tools are hashed first for the prompt cache (§10): the same switches and limits must give the
 * same bytes every time, so the list is built in one fixed order from plain values.
 */

export interface WebToolSwitches {
  readonly webSearch: boolean;
  readonly webFetch: boolean;
}

export interface WebToolLimits {
  /** Searches per reply (`max_uses`). */
  readonly searchMaxUses: number;
  /** Fetches per reply (`max_uses`). */
  readonly fetchMaxUses: number;
}

export interface WebSearchToolDefinition {
  readonly type: 'web_search_20250305';
  readonly name: 'web_search';
  readonly max_uses: number;
}

export interface WebFetchToolDefinition {
  readonly type: 'web_fetch_20250910';
  readonly name: 'web_fetch';
  readonly max_uses: number;
  /** Fetched pages are cited like search results, so they can be listed as sources. */
  readonly citations: { readonly enabled: true };
}

export type ServerToolDefinition = WebSearchToolDefinition | WebFetchToolDefinition;

/** The tool list for these switches, or undefined when both tools are off (no `tools` field at all). */
export function webToolDefinitions(switches: WebToolSwitches, limits: WebToolLimits): ServerToolDefinition[] | undefined {
  const tools: ServerToolDefinition[] = [];
  if (switches.webSearch) tools.push({ type: 'web_search_20250305', name: 'web_search', max_uses: limits.searchMaxUses });
  if (switches.webFetch) tools.push({ type: 'web_fetch_20250910', name: 'web_fetch', max_uses: limits.fetchMaxUses, citations: { enabled: true } });
  return tools.length === 0 ? undefined : tools;
}
