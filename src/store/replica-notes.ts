/**
 * Short notes one replica sends all of them (PostgreSQL `NOTIFY` on NOTES_CHANNEL, heard by each
 * replica's listener, sql/postgres-listener.ts), for what only the process holding it can act on:
 * a Stop press that reached a replica not writing the answer, a delete or edit of a message
 * another replica may be taking in. A note names its topic and the replica it came from; its body
 * is the topic's own (the core's) business. A notification carries at most 8000 bytes, so a note
 * that would not fit is not sent (`fits`).
 */
export type NoteListener = (body: string, from: string) => void;

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7999;

export class ReplicaNotes {
  private readonly listeners = new Map<string, Set<NoteListener>>();

  /** `ownId`: this replica's id; its own notes come back to its listener too and are not passed on. */
  constructor(private readonly ownId?: string) {}

  listen(topic: string, listener: NoteListener): void {
    const set = this.listeners.get(topic) ?? new Set<NoteListener>();
    set.add(listener);
    this.listeners.set(topic, set);
  }

  /** A notification's payload (see `encode`); anything else, or a note of this replica's own, is ignored. */
  heard(payload: string): void {
    const note = decode(payload);
    if (note === undefined || note.from === this.ownId) return;
    for (const listener of this.listeners.get(note.topic) ?? []) listener(note.body, note.from);
  }
}

export function encode(topic: string, from: string, body: string): string {
  return JSON.stringify({ topic, from, body });
}

export function fits(payload: string): boolean {
  return Buffer.byteLength(payload, 'utf8') <= MAX_PAYLOAD_BYTES;
}

function decode(payload: string): { topic: string; from: string; body: string } | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    if (typeof value !== 'object' || value === null) return undefined;
    const { topic, from, body } = value as Record<string, unknown>;
    return typeof topic === 'string' && typeof from === 'string' && typeof body === 'string' ? { topic, from, body } : undefined;
  } catch {
    return undefined;
  }
}
