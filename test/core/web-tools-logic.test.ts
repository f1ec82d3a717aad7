/** Table tests for the web tools' pure parts: definitions, budget, text, sources, failures. */
import { describe, expect, it } from 'vitest';
import { applySearchBudget } from '../../src/core/web-tools/budget.js';
import { utcDayStart } from '../../src/core/durations.js';
import { activityOf, textOfBlocks, toolFailures, type ResponseBlock } from '../../src/core/web-tools/content.js';
import { webToolDefinitions } from '../../src/core/web-tools/definitions.js';
import { describeFailure, turnOutcome } from '../../src/core/web-tools/outcome.js';
import { sourcesOf, withSourceList } from '../../src/core/web-tools/sources.js';
import { continuation } from '../../src/core/web-tools/turn.js';
import type { ClaudeRequest } from '../../src/core/request/types.js';

const blocks = (...list: unknown[]) => list as ResponseBlock[];
const text = (value: string, citations: unknown[] | null = null) => ({ type: 'text', text: value, citations });
const searchCite = (url: string, title: string | null = 'T') => ({ type: 'web_search_result_location', url, title, encrypted_index: 'e', cited_text: 'c' });
const use = (id: string, name: string, input: unknown) => ({ type: 'server_tool_use', id, name, input });
const fetched = (id: string, url: string, title: string | null) => ({
  type: 'web_fetch_tool_result',
  tool_use_id: id,
  content: { type: 'web_fetch_result', url, retrieved_at: null, content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' }, title } },
});
const fetchError = (id: string, code: string) => ({ type: 'web_fetch_tool_result', tool_use_id: id, content: { type: 'web_fetch_tool_result_error', error_code: code } });
const searchError = (id: string, code: string) => ({ type: 'web_search_tool_result', tool_use_id: id, content: { type: 'web_search_tool_result_error', error_code: code } });

describe('webToolDefinitions', () => {
  const limits = { searchMaxUses: 4, fetchMaxUses: 6 };
  it.each([
    [{ webSearch: false, webFetch: false }, undefined],
    [{ webSearch: true, webFetch: false }, [{ type: 'web_search_20250305', name: 'web_search', max_uses: 4 }]],
    [{ webSearch: false, webFetch: true }, [{ type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 6, citations: { enabled: true } }]],
  ])('%j → %j', (switches, expected) => {
    expect(webToolDefinitions(switches, limits)).toEqual(expected);
  });
  it('gives the same bytes for the same settings, search before fetch', () => {
    const both = { webSearch: true, webFetch: true };
    expect(JSON.stringify(webToolDefinitions(both, limits))).toBe(JSON.stringify(webToolDefinitions({ ...both }, { ...limits })));
    expect(webToolDefinitions(both, limits)?.map((tool) => tool.name)).toEqual(['web_search', 'web_fetch']);
  });
});

describe('applySearchBudget', () => {
  const on = { webSearch: true, webFetch: true };
  const limits = { searchMaxUses: 5, fetchMaxUses: 5 };
  it.each([
    { perDay: 0, usedToday: 999, search: true, maxUses: 5, note: false },
    { perDay: 10, usedToday: 3, search: true, maxUses: 5, note: false },
    { perDay: 10, usedToday: 8, search: true, maxUses: 2, note: false },
    { perDay: 10, usedToday: 10, search: false, maxUses: 5, note: true },
    { perDay: 10, usedToday: 12, search: false, maxUses: 5, note: true },
  ])('budget $perDay, used $usedToday → search $search, max_uses $maxUses', ({ perDay, usedToday, search, maxUses, note }) => {
    const decision = applySearchBudget(on, limits, { perDay, usedToday, scope: 'workspace' });
    expect(decision.switches).toEqual({ webSearch: search, webFetch: true });
    expect(decision.limits.searchMaxUses).toBe(maxUses);
    expect(decision.note !== undefined).toBe(note);
    if (note) expect(decision.note).toContain(`this workspace has used its ${perDay} searches`);
  });
  it('leaves search off when it was off', () => {
    expect(applySearchBudget({ webSearch: false, webFetch: false }, limits, { perDay: 1, usedToday: 5, scope: 'server' }).note).toBeUndefined();
  });
  it('days start at midnight UTC', () => {
    expect(utcDayStart(Date.UTC(2026, 11, 3, 23, 59))).toBe(Date.UTC(2026, 11, 3));
  });
});

describe('textOfBlocks', () => {
  it.each([
    [[text('a'), text('b')], 'ab'],
    [[text('Let me look. '), use('1', 'web_search', { query: 'q' }), text(' Found it.')], 'Let me look.\n\nFound it.'],
    [[use('1', 'web_search', {}), text('Only after.')], 'Only after.'],
    [[text('Cited part', [searchCite('https://a')]), text(', and more.')], 'Cited part, and more.'],
    [[], ''],
  ])('%#', (input, expected) => {
    expect(textOfBlocks(input as never)).toBe(expected);
  });
});

describe('activityOf', () => {
  it.each([
    [use('1', 'web_search', { query: 'node 22' }), { kind: 'search', query: 'node 22' }],
    [use('1', 'web_fetch', { url: 'https://a.example/x' }), { kind: 'fetch', url: 'https://a.example/x' }],
    [use('1', 'code_execution', {}), undefined],
    [text('x'), undefined],
  ])('%#', (block, expected) => {
    expect(activityOf(block as never)).toEqual(expected);
  });
});

describe('sourcesOf', () => {
  it.each([
    { name: 'no citations, no fetches', content: [text('plain')], expected: [] },
    {
      name: 'search citations in order, duplicates (fragment, slash, case, www) once',
      content: [text('a', [searchCite('https://x.example/a', 'A')]), text('b', [searchCite('https://WWW.x.example/a/#frag', 'A again'), searchCite('https://y.example/', 'B')])],
      expected: [
        { url: 'https://x.example/a', title: 'A' },
        { url: 'https://y.example/', title: 'B' },
      ],
    },
    {
      name: 'at most five',
      content: [text('a', [1, 2, 3, 4, 5, 6, 7].map((n) => searchCite(`https://s.example/${n}`, `S${n}`)))],
      expected: [1, 2, 3, 4, 5].map((n) => ({ url: `https://s.example/${n}`, title: `S${n}` })),
    },
    {
      name: 'fetched pages: cited ones by title first, uncited ones after',
      content: [
        use('1', 'web_fetch', { url: 'https://one.example/' }),
        fetched('1', 'https://one.example/', 'One'),
        use('2', 'web_fetch', { url: 'https://two.example/' }),
        fetched('2', 'https://two.example/', 'Two'),
        text('x', [{ type: 'char_location', document_index: 0, document_title: 'Two', cited_text: 'c', start_char_index: 0, end_char_index: 1, file_id: null }]),
      ],
      expected: [
        { url: 'https://two.example/', title: 'Two' },
        { url: 'https://one.example/', title: 'One' },
      ],
    },
    {
      name: 'a failed fetch is no source; titles are cleaned; a missing title becomes the host',
      content: [use('1', 'web_fetch', {}), fetchError('1', 'url_not_accessible'), text('x', [searchCite('https://t.example/p', ' A [bad]\n<title> '), searchCite('https://www.n.example/p', null)])],
      expected: [
        { url: 'https://t.example/p', title: 'A bad title' },
        { url: 'https://www.n.example/p', title: 'n.example' },
      ],
    },
    { name: 'non-http citations are left out', content: [text('x', [searchCite('javascript:alert(1)', 'J')])], expected: [] },
  ])('$name', ({ content, expected }) => {
    expect(sourcesOf(blocks(...content))).toEqual(expected);
  });

  it('the stored list is plain and numbered', () => {
    expect(withSourceList('Answer.  ', [{ url: 'https://a.example', title: 'A' }, { url: 'https://b.example', title: 'B' }])).toBe(
      'Answer.\n\nSources:\n1. A (https://a.example)\n2. B (https://b.example)',
    );
    expect(withSourceList('Answer.', [])).toBe('Answer.');
  });
});

describe('tool failures', () => {
  it('finds search and fetch errors with the URL asked for', () => {
    const content = blocks(use('1', 'web_search', { query: 'q' }), searchError('1', 'too_many_requests'), use('2', 'web_fetch', { url: 'https://z.example/a' }), fetchError('2', 'url_not_allowed'));
    expect(toolFailures(content)).toEqual([
      { tool: 'web_search', code: 'too_many_requests' },
      { tool: 'web_fetch', code: 'url_not_allowed', url: 'https://z.example/a' },
    ]);
  });
  it.each(['invalid_tool_input', 'max_uses_exceeded', 'query_too_long', 'request_too_large', 'unavailable', 'too_many_requests'])('search %s reads as a sentence', (code) => {
    expect(describeFailure({ tool: 'web_search', code })).toMatch(/^[A-Z].*\.$/);
  });
  it.each([
    'invalid_tool_input',
    'url_too_long',
    'url_not_allowed',
    'url_not_in_prior_context',
    'url_not_accessible',
    'too_many_requests',
    'unsupported_content_type',
    'max_uses_exceeded',
    'content_too_large',
    'unavailable',
  ])('fetch %s reads as a sentence', (code) => {
    expect(describeFailure({ tool: 'web_fetch', code, url: 'https://q.example/' })).toMatch(/^[A-Z].*\.$/);
  });
  it('an empty turn explains itself; a turn with text gets notes', () => {
    const failed = blocks(use('2', 'web_fetch', { url: 'https://z.example/a' }), fetchError('2', 'url_not_accessible'));
    expect(turnOutcome('', failed, 'end_turn').emptyMessage).toBe('I could not answer: could not read z.example: it could not be reached.');
    expect(turnOutcome('', [], 'pause_turn').emptyMessage).toMatch(/ran out of steps/);
    expect(turnOutcome('', [], 'end_turn').emptyMessage).toBeUndefined();
    const answered = turnOutcome('Answer', failed, 'end_turn');
    expect(answered.notes).toEqual(['Could not read z.example: it could not be reached.']);
    expect(answered.usedTools).toBe(true);
  });
});

describe('continuation', () => {
  it('appends the turn so far as the last assistant message and keeps everything else', () => {
    const request = { model: 'm', max_tokens: 1, system: [], messages: [{ role: 'user', content: [{ type: 'text', text: 'q' }] }], cache_control: { type: 'ephemeral' } } as unknown as ClaudeRequest;
    expect(continuation(request, [])).toBe(request);
    const content = blocks(use('1', 'web_search', { query: 'q' }));
    const next = continuation(request, content);
    expect(next.messages).toEqual([...request.messages, { role: 'assistant', content }]);
    expect(next.messages[1]?.content).toBe(content);
  });
});
