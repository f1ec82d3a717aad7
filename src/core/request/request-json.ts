/**
 * The JSON text of a Messages API request, each message's part kept from the requests before.
 *
 * A long thread's request repeats every earlier message, and the request builder hands over the
 * same object for each unchanged one (request-builder.ts). Serializing all of them again on every
 * reply was the largest share of the bot's own time per reply in a 500-message thread: those
 * objects live long and lie spread over the old heap, so JSON.stringify walks them slowly. Here
 * each message object is serialized once. The text is exactly JSON.stringify(request).
 *
 * A message whose text is kept is frozen (itself, its content and its blocks): one changed
 * afterwards would otherwise be sent as it was, so a change throws instead.
 */
import type { RequestMessage } from './types.js';

const messageJson = new WeakMap<RequestMessage, string>();

/** `JSON.stringify(request)`, reusing the text of every message serialized before. */
export function requestJson<Request extends { readonly messages: readonly RequestMessage[] }>(request: Request): string {
  let json = '';
  for (const [key, value] of Object.entries(request)) {
    if (value === undefined) continue;
    const text = key === 'messages' ? messagesJson(value as readonly RequestMessage[]) : JSON.stringify(value);
    json += `${json === '' ? '{' : ','}${JSON.stringify(key)}:${text}`;
  }
  return json === '' ? '{}' : `${json}}`;
}

function messagesJson(messages: readonly RequestMessage[]): string {
  const parts: string[] = [];
  for (const message of messages) {
    let text = messageJson.get(message);
    if (text === undefined) {
      text = JSON.stringify(message);
      if (!carriesInlineData(message)) {
        freeze(message);
        messageJson.set(message, text);
      }
    }
    parts.push(text);
  }
  return `[${parts.join(',')}]`;
}

/**
 * An inline image or document (base64) is not kept: its text would double what the request
 * builder already holds for as long as it holds it. A long run of plain messages is kept
 * whatever its size, since serializing it again is what this module saves.
 */
function carriesInlineData(message: RequestMessage): boolean {
  return message.content.some((block) => 'source' in block && block.source.type === 'base64');
}

function freeze(message: RequestMessage): void {
  for (const block of message.content) Object.freeze(block);
  Object.freeze(message.content);
  Object.freeze(message);
}
