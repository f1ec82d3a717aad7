/** A thread's key on the per-thread queues, and a stored conversation back as the thread it came from. */
import type { Conversation } from '../../store/types.js';
import type { ThreadRef } from '../types.js';

export function threadKey(thread: ThreadRef): string {
  return `${thread.platform}:${thread.workspaceId}:${thread.threadKey}`;
}

export function refOf(conversation: Conversation): ThreadRef {
  return { platform: conversation.platform, workspaceId: conversation.workspaceId, channelId: conversation.channelId, threadKey: conversation.threadKey };
}
