import type Anthropic from '@anthropic-ai/sdk';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { describe, expect, it } from 'vitest';
import { MessageFold } from '../../src/core/message-fold.js';

type RawEvent = Anthropic.Messages.RawMessageStreamEvent;

/** An event as the wire carries it: the literals below leave out fields the SDK's types require. */
const raw = (event: Record<string, unknown>): RawEvent => event as unknown as RawEvent;
const start = (usage: Record<string, unknown> = {}): RawEvent =>
  raw({
    type: 'message_start',
    message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-opus-4-8', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 120, output_tokens: 1, cache_read_input_tokens: 100, cache_creation_input_tokens: 0, ...usage } },
  });
const blockStart = (index: number, block: Record<string, unknown>): RawEvent => raw({ type: 'content_block_start', index, content_block: block });
const delta = (index: number, value: Record<string, unknown>): RawEvent => raw({ type: 'content_block_delta', index, delta: value });
const stop = (index: number): RawEvent => raw({ type: 'content_block_stop', index });
const end = (stopReason: string, usage: Record<string, unknown> = { output_tokens: 42 }, extra: Record<string, unknown> = {}): RawEvent[] => [
  raw({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null, ...extra }, usage }),
  raw({ type: 'message_stop' }),
];
const text = (index: number, ...parts: string[]): RawEvent[] => [blockStart(index, { type: 'text', text: '' }), ...parts.map((part) => delta(index, { type: 'text_delta', text: part })), stop(index)];

/** The SDK's own fold of the same events: MessageStream reading them as a serialized stream. */
async function sdkFold(events: readonly RawEvent[]): Promise<{ final: Anthropic.Messages.Message; texts: string[][] }> {
  const bytes = new TextEncoder();
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(bytes.encode(`${JSON.stringify(event)}\n`));
      controller.close();
    },
  });
  const stream = MessageStream.fromReadableStream(readable);
  const texts: string[][] = [];
  stream.on('streamEvent', (_event, snapshot) => texts.push(textsOf(snapshot)));
  return { final: await stream.finalMessage(), texts };
}

const textsOf = (message: Anthropic.Messages.Message): string[] => message.content.map((block) => (block.type === 'text' ? block.text : block.type));
/** What is sent back and read: the message as JSON (the SDK's non-enumerable extras left out). */
const asSent = (message: Anthropic.Messages.Message) => JSON.parse(JSON.stringify({ ...message, parsed_output: undefined })) as unknown;

describe('MessageFold', () => {
  it.each<[string, RawEvent[]]>([
    ['plain text in several deltas', [start(), ...text(0, 'Hel', 'lo, ', 'world'), ...end('end_turn', { output_tokens: 7, input_tokens: 120, cache_read_input_tokens: 100 })]],
    [
      'thinking with its signature, then text',
      [start(), blockStart(0, { type: 'thinking', thinking: '', signature: '' }), delta(0, { type: 'thinking_delta', thinking: 'let me ' }), delta(0, { type: 'thinking_delta', thinking: 'see' }), delta(0, { type: 'signature_delta', signature: 'sig==' }), stop(0), ...text(1, 'The answer.'), ...end('end_turn')],
    ],
    ['redacted thinking', [start(), blockStart(0, { type: 'redacted_thinking', data: 'opaque' }), stop(0), ...text(1, 'ok'), ...end('end_turn')]],
    [
      'a web search: tool input in parts, its results, cited text, the search counted',
      [
        start(),
        ...text(0, 'Let me look.'),
        blockStart(1, { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }),
        delta(1, { type: 'input_json_delta', partial_json: '{"query": "threa' }),
        delta(1, { type: 'input_json_delta', partial_json: 'dline bot"}' }),
        stop(1),
        blockStart(2, { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [{ type: 'web_search_result', url: 'https://example.com/a', title: 'A', encrypted_content: 'enc', page_age: null }] }),
        stop(2),
        blockStart(3, { type: 'text', text: '', citations: null }),
        delta(3, { type: 'citations_delta', citation: { type: 'web_search_result_location', url: 'https://example.com/a', title: 'A', encrypted_index: 'ei', cited_text: 'a bot' } }),
        delta(3, { type: 'text_delta', text: 'It is a bot.' }),
        stop(3),
        ...end('end_turn', { output_tokens: 60, server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 } }),
      ],
    ],
    [
      'a turn paused mid-tool (pause_turn), a tool input that never got deltas',
      [start(), blockStart(0, { type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_fetch', input: {} }), stop(0), ...end('pause_turn')],
    ],
    ['a refusal with its details', [start(), ...text(0, 'I can'), ...end('refusal', { output_tokens: 3 }, { stop_details: { type: 'refusal', category: 'cyber', explanation: 'not this' } })]],
  ])('folds %s as the SDK does', async (_name, events) => {
    const fold = new MessageFold();
    const texts: string[][] = [];
    // Each fold gets its own copy: both write into the message the start event carries.
    for (const event of structuredClone(events)) {
      const snapshot = fold.add(event);
      if (snapshot !== undefined) texts.push(textsOf(snapshot));
    }
    const sdk = await sdkFold(events);
    expect(asSent(fold.final())).toEqual(asSent(sdk.final));
    // And the text shown while it streams, event by event.
    expect(texts).toEqual(sdk.texts);
  });

  it('gives nothing before message_start, and no final message before message_stop', () => {
    const fold = new MessageFold();
    expect(fold.add(raw({ type: 'ping' }))).toBeUndefined();
    fold.add(start());
    for (const event of text(0, 'cut')) fold.add(event);
    expect(() => fold.final()).toThrow(/before its message was complete/);
  });
});
