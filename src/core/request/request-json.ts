/**
 * The JSON text of a Messages API request, the messages it shares with the conversation's last
 * request taken from that one's text.
 *
 * A long thread's request repeats every earlier message, and the request builder hands over the
 * same object for each unchanged one (request-builder.ts). Serializing all of them again on every
 * reply was the largest share of the bot's own time per reply in a 500-message thread: those
 * objects live long and lie spread over the old heap, so JSON.stringify walks them slowly; and
 * joining 500 kept texts again was the largest part of what was left. Here the list's leading
 * run shared with the last list is one slice of that list's text, and only the rest is
 * serialized. The text is exactly JSON.stringify(request).
 *
 * A message whose text is kept is frozen (itself, its content and its blocks): one changed
 * afterwards would otherwise be sent as it was, so a change throws instead.
 */
import type { RequestMessage } from './types.js';

/** A list of messages serialized last, after its first message (a conversation's request, in practice). */
interface Serialized {
  /** Its leading messages without inline data, each frozen. */
  readonly messages: readonly RequestMessage[];
  /** Their texts joined with commas, and where each one's text ends in it. */
  readonly text: string;
  readonly ends: readonly number[];
}

const lastAfter = new WeakMap<RequestMessage, Serialized>();

/** `JSON.stringify(request)`, reusing the text of the messages it shares with the last request of its conversation. */
export function requestJson<Request extends { readonly messages: readonly RequestMessage[] }>(request: Request): string {
  let json = '';
  for (const [key, value] of Object.entries(request)) {
    if (value === undefined) continue;
    const text = key === 'messages' ? messagesJson(value as readonly RequestMessage[]) : JSON.stringify(value);
    json += `${json === '' ? '{' : ','}${JSON.stringify(key)}:${text}`;
  }
  return json === '' ? '{}' : `${json}}`;
}

/**
 * The messages' JSON: the longest run of them that starts the list serialized last after the same
 * first message is taken from that list's text as one piece (a slice), so a reply in a long thread
 * serializes only the messages new since the last one, and does not even join the others' texts.
 */
function messagesJson(messages: readonly RequestMessage[]): string {
  const first = messages[0];
  if (first === undefined) return '[]';
  const last = lastAfter.get(first);
  let same = 0;
  if (last !== undefined) {
    const most = Math.min(last.messages.length, messages.length);
    while (same < most && messages[same] === last.messages[same]) same += 1;
  }
  let text = same === 0 || last === undefined ? '' : last.text.slice(0, last.ends[same - 1]);
  const ends = same === 0 || last === undefined ? [] : last.ends.slice(0, same);
  let kept = same;
  for (let index = same; index < messages.length; index += 1) {
    const message = messages[index] as RequestMessage;
    const json = JSON.stringify(message);
    text = index === 0 ? json : `${text},${json}`;
    ends.push(text.length);
    if (kept === index && !carriesInlineData(message)) {
      freeze(message);
      kept += 1;
    }
  }
  if (kept > 0) lastAfter.set(first, { messages: messages.slice(0, kept), text: kept === messages.length ? text : text.slice(0, ends[kept - 1]), ends: ends.slice(0, kept) });
  return `[${text}]`;
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
