/** Server tool turns as the streaming Messages API sends them (anthropic-api-rules.md §14). */
import type { WebTurn } from './anthropic-web.js';

type Block = Record<string, unknown>;

/** A tool turn as SSE (§14): tool input as `input_json_delta`s, each result whole in its start event, text with `citations_delta`s. */
export async function streamWebTurn(
  send: (event: string, data: unknown) => void,
  turn: WebTurn,
  chunkSize: number,
  onFirstToken: () => void,
  /** Resolves when a tool's result may be sent: a test holds it to see what shows while the tool runs. */
  toolRuns: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
  for (let index = 0; index < turn.content.length; index += 1) {
    const block = turn.content[index] as Block;
    if (block.type === 'server_tool_use') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } });
      const json = JSON.stringify(block.input);
      const half = Math.ceil(json.length / 2);
      for (const part of [json.slice(0, half), json.slice(half)]) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: part } });
      }
    } else if (block.type === 'text') {
      const { text, citations, ...rest } = block as { text: string; citations?: unknown[] };
      send('content_block_start', { type: 'content_block_start', index, content_block: { ...rest, text: '' } });
      for (const citation of citations ?? []) send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'citations_delta', citation } });
      const points = [...text];
      for (let sent = 0; sent < points.length; sent += chunkSize) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: points.slice(sent, sent + chunkSize).join('') } });
        onFirstToken();
        await tick();
      }
    } else {
      if (block.type === 'web_search_tool_result' || block.type === 'web_fetch_tool_result') await toolRuns();
      send('content_block_start', { type: 'content_block_start', index, content_block: block });
    }
    send('content_block_stop', { type: 'content_block_stop', index });
    // The tool runs between its call and its result: let the client see the call first.
    await tick();
  }
}
