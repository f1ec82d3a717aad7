/**
 * MessageAccumulator against the SDK's own MessageStream: the same raw events, the same message
 * after every event and at the end (text, citations, thinking, server tools with their inputs
 * and results, refusals, pause_turn, usage).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { describe, expect, it } from 'vitest';
import { MessageAccumulator } from '../../src/core/message-accumulator.js';

type RawEvent = Anthropic.Messages.RawMessageStreamEvent;

const start = (): RawEvent =>
  ({
    type: 'message_start',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-opus-4-8',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    },
  }) as unknown as RawEvent;
const blockStart = (index: number, block: Record<string, unknown>) => ({ type: 'content_block_start', index, content_block: block }) as unknown as RawEvent;
const delta = (index: number, d: Record<string, unknown>) => ({ type: 'content_block_delta', index, delta: d }) as unknown as RawEvent;
const stop = (index: number) => ({ type: 'content_block_stop', index }) as unknown as RawEvent;
const end = (stopReason: string, usage: Record<string, unknown> = { output_tokens: 30 }, details: unknown = null): RawEvent[] => [
  { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null, stop_details: details }, usage } as unknown as RawEvent,
  { type: 'message_stop' } as unknown as RawEvent,
];
const text = (index: number, ...pieces: string[]) => [blockStart(index, { type: 'text', text: '' }), ...pieces.map((piece) => delta(index, { type: 'text_delta', text: piece })), stop(index)];
const citation = { type: 'web_search_result_location', url: 'https://a.example', title: 'A', encrypted_index: 'x', cited_text: 'a fact' };

const SCENARIOS: Record<string, RawEvent[]> = {
  'plain text in several deltas': [start(), ...text(0, 'Hel', 'lo, ', 'world.'), ...end('end_turn')],
  'thinking with its signature, then text': [
    start(),
    blockStart(0, { type: 'thinking', thinking: '', signature: '' }),
    delta(0, { type: 'thinking_delta', thinking: 'Let me ' }),
    delta(0, { type: 'thinking_delta', thinking: 'think.' }),
    delta(0, { type: 'signature_delta', signature: 'sig' }),
    stop(0),
    ...text(1, 'Answer.'),
    ...end('end_turn'),
  ],
  'a web search: tool input in pieces, its result, cited text': [
    start(),
    ...text(0, 'Let me look that up.'),
    blockStart(1, { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }),
    delta(1, { type: 'input_json_delta', partial_json: '' }),
    delta(1, { type: 'input_json_delta', partial_json: '{"query": "node' }),
    delta(1, { type: 'input_json_delta', partial_json: ' 22 release"}' }),
    stop(1),
    blockStart(2, { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [{ type: 'web_search_result', url: 'https://a.example', title: 'A', encrypted_content: 'e', page_age: null }] }),
    stop(2),
    blockStart(3, { type: 'text', text: '', citations: null }),
    delta(3, { type: 'citations_delta', citation }),
    delta(3, { type: 'text_delta', text: 'It shipped in April.' }),
    stop(3),
    ...end('end_turn', { output_tokens: 80, input_tokens: 900, server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 } }),
  ],
  'a web fetch whose input arrives whole, then pause_turn': [
    start(),
    blockStart(0, { type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_fetch', input: { url: 'https://docs.example/x' } }),
    stop(0),
    blockStart(1, { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_2', content: { type: 'web_fetch_tool_result_error', error_code: 'url_not_accessible' } }),
    stop(1),
    ...end('pause_turn', { output_tokens: 10, cache_read_input_tokens: 500, cache_creation_input_tokens: 20 }),
  ],
  'a refusal': [start(), ...text(0, 'I can'), ...end('refusal', { output_tokens: 3 }, { type: 'refusal', category: 'cyber', explanation: 'no' })],
  'cut before message_stop': [start(), ...text(0, 'Half an ans')],
};

/** The SDK's MessageStream over the same events: its message after each event, and its final message. */
async function throughMessageStream(events: readonly RawEvent[]): Promise<{ snapshots: unknown[]; final: unknown }> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
      controller.close();
    },
  });
  const stream = MessageStream.fromReadableStream(body);
  const snapshots: unknown[] = [];
  stream.on('streamEvent', (_event, snapshot) => snapshots.push(structuredClone(snapshot)));
  const final = await stream.finalMessage().then(
    // `parsed_output` (structured outputs, which the bot does not use) is all the final message adds.
    ({ parsed_output: _parsed, ...message }) => message,
    (error: unknown) => (error instanceof Error ? `error: ${error.message}` : String(error)),
  );
  return { snapshots, final };
}

describe('MessageAccumulator', () => {
  it.each(Object.entries(SCENARIOS))('folds the events as MessageStream does: %s', async (_name, events) => {
    const expected = await throughMessageStream(structuredClone(events));
    const accumulator = new MessageAccumulator();
    const snapshots: unknown[] = [];
    let ended = false;
    for (const event of structuredClone(events)) {
      accumulator.apply(event);
      if (event.type === 'message_stop') ended = true;
      snapshots.push(structuredClone(accumulator.current));
    }
    expect(snapshots).toEqual(expected.snapshots);
    if (typeof expected.final === 'string') expect(ended).toBe(false);
    else expect(accumulator.current).toEqual(expected.final);
  });
});
