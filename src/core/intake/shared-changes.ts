/**
 * A tombstone (tombstones.ts) as the note that tells the other replicas of it: JSON of the
 * thread, the platform message id and the change. Read back defensively: a note from a replica of
 * another version that does not have this shape is not applied.
 */
import type { AttachmentInput, Platform, ThreadRef } from '../types.js';
import type { EarlyChange } from './tombstones.js';

export interface SharedEarlyChange {
  readonly thread: ThreadRef;
  readonly messageId: string;
  readonly change: EarlyChange;
}

export function encodeEarlyChange(thread: ThreadRef, messageId: string, change: EarlyChange): string {
  const { platform, workspaceId, channelId, threadKey } = thread;
  return JSON.stringify({ thread: { platform, workspaceId, channelId, threadKey }, messageId, change });
}

const PLATFORMS: readonly Platform[] = ['discord', 'slack', 'web'];

export function decodeEarlyChange(body: string): SharedEarlyChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || !isRecord(value.thread) || !isRecord(value.change) || typeof value.messageId !== 'string') return undefined;
  const { platform, workspaceId, channelId, threadKey } = value.thread;
  if (!PLATFORMS.includes(platform as Platform) || typeof workspaceId !== 'string' || typeof channelId !== 'string' || typeof threadKey !== 'string') return undefined;
  const change = earlyChange(value.change);
  if (change === undefined) return undefined;
  return { thread: { platform: platform as Platform, workspaceId, channelId, threadKey }, messageId: value.messageId, change };
}

function earlyChange(value: Record<string, unknown>): EarlyChange | undefined {
  if (typeof value.at !== 'number') return undefined;
  if (value.kind === 'deleted') return { kind: 'deleted', at: value.at };
  if (value.kind !== 'edited' || typeof value.text !== 'string') return undefined;
  if (value.attachments === undefined) return { kind: 'edited', at: value.at, text: value.text };
  if (!Array.isArray(value.attachments) || !value.attachments.every(isAttachment)) return undefined;
  return { kind: 'edited', at: value.at, text: value.text, attachments: value.attachments };
}

function isAttachment(value: unknown): value is AttachmentInput {
  return isRecord(value) && typeof value.id === 'string' && typeof value.name === 'string' && typeof value.url === 'string';
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
