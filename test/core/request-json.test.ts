import { describe, expect, it } from 'vitest';
import { requestJson } from '../../src/core/request/request-json.js';
import type { ClaudeRequest, RequestMessage } from '../../src/core/request/types.js';

const message = (role: RequestMessage['role'], text: string): RequestMessage => ({ role, content: [{ type: 'text', text }] });
const request = (messages: RequestMessage[], extra: Record<string, unknown> = {}): ClaudeRequest => ({
  model: 'claude-opus-4-8',
  max_tokens: 1024,
  system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }],
  messages,
  cache_control: { type: 'ephemeral' },
  ...extra,
});

describe('requestJson', () => {
  const shared = message('user', 'a question with "quotes", a \\ backslash, a line\nbreak and ünïcødé 🧵');
  it.each<[string, { readonly messages: RequestMessage[]; readonly [key: string]: unknown }]>([
    ['a plain request', { ...request([shared]) }],
    ['one with tools and stream', { ...request([shared, message('assistant', 'an answer'), message('user', 'more?')], { tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] }), stream: true }],
    ['undefined fields left out, as JSON.stringify does', { ...request([shared]), tools: undefined, thinking: { type: 'adaptive' } }],
    ['an image and a document block', { ...request([{ role: 'user', content: [{ type: 'document', source: { type: 'file', file_id: 'file_1' }, title: 'a.pdf' }, { type: 'image', source: { type: 'url', url: 'https://cdn.example/a.png' } }, { type: 'text', text: 'what is this?' }] }]) }],
    ['no messages', { ...request([]) }],
  ])('is JSON.stringify of %s', (_name, body) => {
    expect(requestJson(body)).toBe(JSON.stringify(body));
    // The second time from the kept texts.
    expect(requestJson(body)).toBe(JSON.stringify(body));
  });

  it('reuses a message serialized before in a later request, and refuses a change to it', () => {
    const first = message('user', 'first?');
    requestJson(request([first]));
    const next = request([first, message('assistant', 'one'), message('user', 'second?')]);
    expect(requestJson(next)).toBe(JSON.stringify(next));
    expect(() => first.content.push({ type: 'text', text: 'changed later' })).toThrow(TypeError);
    expect(() => {
      (first.content[0] as { text: string }).text = 'changed later';
    }).toThrow(TypeError);
    expect(requestJson(next)).toBe(JSON.stringify(next));
  });

  it('serializes a list exactly whatever it shares with the lists before', () => {
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((text, i) => message(i % 2 === 0 ? 'user' : 'assistant', text)) as [RequestMessage, RequestMessage, RequestMessage, RequestMessage, RequestMessage];
    const inline: RequestMessage = { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }, { type: 'text', text: 'this?' }] };
    const after: RequestMessage = { role: 'assistant', content: [{ type: 'text', text: 'after the image' }] };
    const lists: RequestMessage[][] = [
      [a, b],
      [a, b, c], // grown
      [a, b, d, e], // the last one replaced (merged) and more added
      [a, c, e], // one in the middle changed
      [a], // shorter
      [a, b, inline, after], // kept up to the inline image only
      [a, b, inline, after, c],
    ];
    for (const list of lists) {
      const body = request(list);
      expect(requestJson(body)).toBe(JSON.stringify(body));
    }
  });

  it('keeps the text of a long run of plain messages (a thread of chatter folded into one turn)', () => {
    const chatter: RequestMessage = { role: 'user', content: Array.from({ length: 600 }, (_, i) => ({ type: 'text' as const, text: `message ${i}: ${'some thread content '.repeat(6)}` })) };
    const body = request([chatter, message('assistant', 'one'), message('user', 'two?')]);
    expect(JSON.stringify(chatter).length).toBeGreaterThan(64 * 1024);
    expect(requestJson(body)).toBe(JSON.stringify(body));
    expect(Object.isFrozen(chatter)).toBe(true);
    expect(() => chatter.content.push({ type: 'text', text: 'changed later' })).toThrow(TypeError);
  });

  it.each<[string, RequestMessage['content'][number]]>([
    ['an inline image', { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(100) } }],
    ['an inline PDF', { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER'.repeat(20) }, title: 'a.pdf' }],
  ])('does not keep the text of a message with %s, however short', (_name, block) => {
    const inline: RequestMessage = { role: 'user', content: [block, { type: 'text', text: 'this?' }] };
    const body = request([inline]);
    expect(requestJson(body)).toBe(JSON.stringify(body));
    expect(Object.isFrozen(inline)).toBe(false);
  });

  it('does not keep the text of a message with an inline image: sent exactly, and left unfrozen', () => {
    const inline: RequestMessage = { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(100_000) } }, { type: 'text', text: 'this?' }] };
    const body = request([inline]);
    expect(requestJson(body)).toBe(JSON.stringify(body));
    expect(Object.isFrozen(inline)).toBe(false);
    (inline.content[1] as { text: string }).text = 'and now this?';
    expect(requestJson(body)).toBe(JSON.stringify(body));
  });
});
