/**
 * A streamed Messages API response folded into its message, event by event, as the SDK's
 * MessageStream folds it (test/core/message-fold.test.ts runs the same events through both and
 * compares): text, citations, thinking and its signature, tool inputs from their partial JSON,
 * server tool results (whole in their start event), and the stop reason, details and usage.
 *
 * Why not MessageStream itself: the bot streams with `messages.create({ stream: true })` and folds
 * here. The helper's event emitters, promise queues and second async iteration over the same
 * events cost each reply about a third of a millisecond (measured in-process against the bench's
 * double), more than the rest of the bot's own request handling; the fold is a few assignments.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { ThreadlineError } from '../errors.js';

type RawEvent = Anthropic.Messages.RawMessageStreamEvent;
type Message = Anthropic.Messages.Message;
type Delta = Anthropic.Messages.RawContentBlockDeltaEvent['delta'];
/** A content block as the fold writes to it (the SDK's types are the API's, read-only in spirit). */
type MutableBlock = { type: string; text?: string; citations?: unknown[] | null; thinking?: string; signature?: string; input?: unknown };

export class MessageFold {
  private message: Message | undefined;
  private stopped = false;
  /** Tool-use blocks' input as partial JSON, by block index, until the block stops. */
  private readonly inputJson = new Map<number, string>();

  /** The message so far, `event` included; undefined until `message_start`. */
  add(event: RawEvent): Message | undefined {
    if (event.type === 'message_start') {
      if (this.message !== undefined) throw new ThreadlineError('model_unavailable', 'the model stream started a second message before ending the first');
      this.message = event.message;
      return this.message;
    }
    const message = this.message;
    if (message === undefined) return undefined;
    switch (event.type) {
      case 'content_block_start':
        message.content.push({ ...event.content_block });
        break;
      case 'content_block_delta':
        this.delta(message.content[event.index] as MutableBlock | undefined, event.index, event.delta);
        break;
      case 'content_block_stop': {
        const json = this.inputJson.get(event.index);
        if (json !== undefined) {
          (message.content[event.index] as MutableBlock).input = parseInput(json);
          this.inputJson.delete(event.index);
        }
        break;
      }
      case 'message_delta': {
        message.stop_reason = event.delta.stop_reason;
        message.stop_sequence = event.delta.stop_sequence;
        message.stop_details = event.delta.stop_details;
        if (event.delta.container != null) message.container = event.delta.container;
        const usage = event.usage;
        message.usage.output_tokens = usage.output_tokens;
        // The other counters are whole-message totals, sent only where they apply: overwrite, never add.
        if (usage.input_tokens != null) message.usage.input_tokens = usage.input_tokens;
        if (usage.cache_creation_input_tokens != null) message.usage.cache_creation_input_tokens = usage.cache_creation_input_tokens;
        if (usage.cache_read_input_tokens != null) message.usage.cache_read_input_tokens = usage.cache_read_input_tokens;
        if (usage.server_tool_use != null) message.usage.server_tool_use = usage.server_tool_use;
        if (usage.output_tokens_details != null) message.usage.output_tokens_details = usage.output_tokens_details;
        break;
      }
      case 'message_stop':
        this.stopped = true;
        break;
    }
    return message;
  }

  /** The finished message. Throws when the stream ended before `message_stop`. */
  final(): Message {
    if (this.message === undefined || !this.stopped) throw new ThreadlineError('model_unavailable', 'the model stream ended before its message was complete');
    return this.message;
  }

  private delta(block: MutableBlock | undefined, index: number, delta: Delta): void {
    if (block === undefined) return;
    switch (delta.type) {
      case 'text_delta':
        if (block.type === 'text') block.text = (block.text ?? '') + delta.text;
        return;
      case 'citations_delta':
        if (block.type === 'text') block.citations = [...(block.citations ?? []), delta.citation];
        return;
      case 'input_json_delta':
        if (block.type === 'tool_use' || block.type === 'server_tool_use') this.inputJson.set(index, (this.inputJson.get(index) ?? '') + delta.partial_json);
        return;
      case 'thinking_delta':
        if (block.type === 'thinking') block.thinking = (block.thinking ?? '') + delta.thinking;
        return;
      case 'signature_delta':
        if (block.type === 'thinking') block.signature = delta.signature;
        return;
    }
  }
}

/** A tool block's whole input; `{}` when none came (or it was cut short and is not JSON). */
function parseInput(json: string): unknown {
  if (json === '') return {};
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return {};
  }
}
