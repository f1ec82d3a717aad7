/** The fake's server-tool rules (anthropic-api-rules.md §14), so a wrong request cannot pass unnoticed. */
import { describe, expect, it } from 'vitest';
import { validateRequest } from './anthropic-rules.js';
import { canonical, type EmittedRegistry } from './anthropic-tool-rules.js';

const user = { role: 'user', content: [{ type: 'text', text: 'q https://a.example/' }] };
const search = { type: 'web_search_20250305', name: 'web_search', max_uses: 3 };
const fetchTool = { type: 'web_fetch_20250910', name: 'web_fetch' };
const body = (extra: Record<string, unknown>) => ({ model: 'claude-opus-4-8', max_tokens: 100, messages: [user], ...extra });

const use = { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'q' } };
const result = { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [{ type: 'web_search_result', url: 'https://r.example/', title: 'R', encrypted_content: 'EncA', page_age: null }] };
const cited = { type: 'text', text: 'R says so.', citations: [{ type: 'web_search_result_location', url: 'https://r.example/', title: 'R', encrypted_index: 'EncI', cited_text: 'R' }] };
const emitted: EmittedRegistry = { blocks: new Map([['srvtoolu_1', { use: canonical(use), result: canonical(result) }]]), encryptedIndexes: new Set(['EncI']) };

describe('server tool rules of the fake', () => {
  it.each([
    { name: 'the plain tools', extra: { tools: [search, fetchTool] }, error: undefined },
    { name: 'both domain lists', extra: { tools: [{ ...search, allowed_domains: ['a'], blocked_domains: ['b'] }] }, error: /both allowed_domains and blocked_domains/ },
    { name: 'an unknown field', extra: { tools: [{ ...search, citations: { enabled: true } }] }, error: /citations: Extra inputs/ },
    { name: 'a wrong name', extra: { tools: [{ ...search, name: 'search' }] }, error: /name: Input should be 'web_search'/ },
    { name: 'max_uses 0', extra: { tools: [{ ...search, max_uses: 0 }] }, error: /max_uses/ },
    { name: 'duplicate names', extra: { tools: [search, search] }, error: /unique/ },
    { name: 'an unknown tool type', extra: { tools: [{ type: 'web_search_20990101', name: 'web_search' }] }, error: /does not match/ },
    { name: 'a 2026 version without allowed_callers on Haiku 4.5', extra: { model: 'claude-haiku-4-5', tools: [{ type: 'web_search_20260209', name: 'web_search' }] }, error: /allowed_callers/ },
    { name: 'a 2026 version with allowed_callers on Haiku 4.5', extra: { model: 'claude-haiku-4-5', tools: [{ type: 'web_search_20260209', name: 'web_search', allowed_callers: ['direct'] }] }, error: undefined },
  ])('$name', ({ extra, error }) => {
    const verdict = validateRequest(body(extra));
    if (error === undefined) expect(verdict).toBeUndefined();
    else expect(verdict?.message).toMatch(error);
  });

  const withTurn = (assistant: unknown[], tools: unknown[] = [search], final = true) =>
    validateRequest(
      body({ tools, messages: [user, { role: 'assistant', content: assistant }, ...(final ? [] : [{ role: 'user', content: [{ type: 'text', text: 'next' }] }])] }),
      { emitted },
    );

  it.each([
    { name: 'a paused turn sent back unchanged continues (no prefill error)', assistant: [use, result], final: true, error: undefined },
    { name: 'the whole answer with its citations, mid-history', assistant: [use, result, cited], final: false, error: undefined },
    { name: 'a dangling server_tool_use', assistant: [use], final: false, error: /without result blocks/ },
    { name: 'a result without its call', assistant: [result], final: false, error: /unexpected `tool_use_id`/ },
    { name: 'a modified result', assistant: [use, { ...result, content: [{ ...result.content[0], encrypted_content: 'forged' }] }], final: true, error: /exactly as received/ },
    { name: 'a forged citation', assistant: [use, result, { ...cited, citations: [{ ...cited.citations[0], encrypted_index: 'forged' }] }], final: false, error: /encrypted_index/ },
    { name: 'a call made up by the client', assistant: [{ ...use, id: 'srvtoolu_x' }], final: true, error: /not produced by the API/ },
    { name: 'plain final assistant text is still a prefill', assistant: [{ type: 'text', text: 'So' }], final: true, error: /prefill/ },
  ])('$name', ({ assistant, final, error }) => {
    const verdict = withTurn(assistant, [search], final);
    if (error === undefined) expect(verdict).toBeUndefined();
    else expect(verdict?.message).toMatch(error);
  });

  it('refuses tool blocks without their tool, and tool blocks or citations in user turns', () => {
    expect(withTurn([use, result], [fetchTool])?.message).toMatch(/does not define that tool/);
    const inUser = validateRequest(body({ tools: [search], messages: [{ role: 'user', content: [use, result] }] }), { emitted });
    expect(inUser?.message).toMatch(/only allowed in assistant messages/);
    const citedUser = validateRequest(body({ messages: [{ role: 'user', content: [cited] }] }));
    expect(citedUser?.message).toMatch(/citations are not allowed in user messages/);
  });
});
