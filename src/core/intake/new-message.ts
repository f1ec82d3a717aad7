/** An inbound message as the row intake stores: the bot's own messages are the assistant's turns. */
import type { NewMessage } from '../../store/types.js';
import { toNewAttachment } from '../attachments.js';
import type { InboundMessage } from '../types.js';

export function toNewMessage(conversationId: number, msg: InboundMessage): NewMessage {
  const self = msg.author.kind === 'self';
  return {
    conversationId,
    platformMessageId: msg.messageId,
    authorId: msg.author.id,
    authorName: msg.author.name,
    authorKind: msg.author.kind,
    role: self ? 'assistant' : 'user',
    text: msg.text,
    createdAt: msg.createdAt,
    attachments: self ? [] : msg.attachments.map(toNewAttachment),
  };
}
