/** Builders for normalized inbound messages. */
import type { AttachmentInput, InboundMessage, ThreadRef } from '../../src/core/types.js';

export const THREAD: ThreadRef = { platform: 'discord', workspaceId: 'guild-1', channelId: 'chan-1', threadKey: 'thread-1' };

let clock = Date.UTC(2026, 10, 1);

export function inbound(
  text: string,
  overrides: Partial<Omit<InboundMessage, 'author'>> & { author?: Partial<InboundMessage['author']>; attachments?: AttachmentInput[] } = {},
): InboundMessage {
  clock += 1000;
  const { author, ...rest } = overrides;
  return {
    thread: THREAD,
    messageId: `m${clock}`,
    text,
    createdAt: clock,
    attachments: [],
    mentionsBot: false,
    isDirect: false,
    ...rest,
    author: { id: 'u-alice', name: 'Alice', kind: 'user', ...author },
  };
}
