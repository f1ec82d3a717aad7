/**
 * The events of one streamed Messages API call folded into the message, the way the SDK's
 * MessageStream folds them (its fold is private), for a bare `messages.create({ stream: true })`.
 * MessageStream wraps that same call in a second event emitter and iterator and builds its
 * headers and tracing span twice; on the loopback bench that cost about a sixth of a reply's time
 * against the bare call (figure 1). Tool inputs use the SDK's own partial-JSON parser.
 * test/core/message-accumulator.test.ts holds the result equal to MessageStream's on the same
 * events (text, citations, thinking, server tools and their results, refusals, pause_turn).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { partialParse } from '@anthropic-ai/sdk/_vendor/partial-json-parser/parser';

type RawEvent = Anthropic.Messages.RawMessageStreamEvent;
type Message = Anthropic.Messages.Message;
type Block = Anthropic.Messages.ContentBlock;

export class MessageAccumulator {
  private snapshot: Message | undefined;
  /** A tool block's input JSON so far, by block index, until the block stops. */
  private readonly inputJson = new Map<number, string>();

  /** The message so far; undefined before `message_start`. */
  get current(): Message | undefined {
    return this.snapshot;
  }

  apply(event: RawEvent): void {
    if (event.type === 'message_start') {
      if (this.snapshot !== undefined) throw new Error(`Unexpected event order, got ${event.type} before receiving "message_stop"`);
      this.snapshot = event.message;
      return;
    }
    const message = this.snapshot;
    if (message === undefined) return;
    switch (event.type) {
      case 'message_delta': {
        message.stop_reason = event.delta.stop_reason;
        message.stop_sequence = event.delta.stop_sequence;
        message.stop_details = event.delta.stop_details;
        message.usage.output_tokens = event.usage.output_tokens;
        if (event.delta.container != null) message.container = event.delta.container;
        // The other counters are whole-message totals, omitted when they do not apply: overwrite, never add.
        if (event.usage.input_tokens != null) message.usage.input_tokens = event.usage.input_tokens;
        if (event.usage.cache_creation_input_tokens != null) message.usage.cache_creation_input_tokens = event.usage.cache_creation_input_tokens;
        if (event.usage.cache_read_input_tokens != null) message.usage.cache_read_input_tokens = event.usage.cache_read_input_tokens;
        if (event.usage.server_tool_use != null) message.usage.server_tool_use = event.usage.server_tool_use;
        const details = (event.usage as { output_tokens_details?: unknown }).output_tokens_details;
        if (details != null) (message.usage as { output_tokens_details?: unknown }).output_tokens_details = details;
        return;
      }
      case 'content_block_start':
        message.content.push({ ...event.content_block });
        return;
      case 'content_block_delta':
        this.applyDelta(message, event.index, event.delta);
        return;
      case 'content_block_stop': {
        const json = this.inputJson.get(event.index);
        const block = message.content[event.index];
        if (json !== undefined && block !== undefined) {
          this.inputJson.delete(event.index);
          message.content[event.index] = withInput(block, json);
        }
        return;
      }
      default:
        return;
    }
  }

  private applyDelta(message: Message, index: number, delta: Anthropic.Messages.RawContentBlockDelta): void {
    const block = message.content[index];
    if (block === undefined) return;
    switch (delta.type) {
      case 'text_delta':
        if (block.type === 'text') message.content[index] = { ...block, text: (block.text || '') + delta.text };
        return;
      case 'citations_delta':
        if (block.type === 'text') message.content[index] = { ...block, citations: [...(block.citations ?? []), delta.citation] };
        return;
      case 'input_json_delta':
        if (block.type === 'tool_use' || block.type === 'server_tool_use') {
          const json = (this.inputJson.get(index) ?? '') + delta.partial_json;
          this.inputJson.set(index, json);
          // The input so far, as MessageStream shows it mid-block (a stopped answer keeps it).
          message.content[index] = withInput(block, json);
        }
        return;
      case 'thinking_delta':
        if (block.type === 'thinking') message.content[index] = { ...block, thinking: block.thinking + delta.thinking };
        return;
      case 'signature_delta':
        if (block.type === 'thinking') message.content[index] = { ...block, signature: delta.signature };
        return;
      default:
        return;
    }
  }
}

/** The block with `input` parsed from `json` and placed last, as MessageStream leaves it. */
function withInput(block: Block, json: string): Block {
  const next: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(block)) if (key !== 'input') next[key] = value;
  next.input = json === '' ? {} : (partialParse(json) as unknown);
  return next as unknown as Block;
}
