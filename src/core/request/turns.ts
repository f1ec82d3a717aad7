/** Per-turn rules: which turn is answered, what an empty or image-only turn becomes, and what a turn costs in tokens. */
import { estimateDocumentTokens } from '../documents/pdf.js';
import { estimateImageTokens, estimateTextTokens } from '../tokens.js';
import type { HistoryTurn } from './types.js';

const PER_TURN_OVERHEAD = 4;

function lastIndexWhere<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i -= 1) if (predicate(items[i] as T)) return i;
  return -1;
}

export function indexOfLastUser(turns: readonly HistoryTurn[]): number {
  return lastIndexWhere(turns, (turn) => turn.role === 'user');
}

export function countTrailingSystem(turns: readonly HistoryTurn[], after: number): number {
  let count = 0;
  while (turns[after + 1 + count]?.role === 'system') count += 1;
  return count;
}

export function withoutImagesUnlessUser(turn: HistoryTurn): HistoryTurn {
  return turn.role === 'user' || (turn.images.length === 0 && (turn.documents?.length ?? 0) === 0) ? turn : { ...turn, images: [], documents: [] };
}

/** The message being answered may be only an image, or only a mention: say what is implied. */
export function withImpliedRequest(turn: HistoryTurn): HistoryTurn {
  if (turn.text.trim() !== '') return turn;
  if (turn.images.length > 0) {
    return { ...turn, text: turn.images.length === 1 ? '(sent an image without text: describe it)' : `(sent ${turn.images.length} images without text: describe them)` };
  }
  if ((turn.documents?.length ?? 0) > 0) return { ...turn, text: '(sent a document without text: summarize it)' };
  return { ...turn, text: '(mentioned you without any text: respond to the conversation so far)' };
}

export function isEmpty(turn: HistoryTurn): boolean {
  return turn.text.trim() === '' && turn.images.length === 0 && (turn.documents?.length ?? 0) === 0 && turn.notes.length === 0;
}

interface TurnFacts {
  readonly tokens: number;
  /** The text block as sent: the message and its notes. */
  readonly plain: string;
  /** The same, prefixed with the author's name, for threads with several people. */
  readonly named: string;
}

/**
 * Per-turn results by turn object. The history hands over the same object for an unchanged
 * message turn after turn, so a long thread is not re-measured and re-rendered on every reply.
 */
const factsByTurn = new WeakMap<HistoryTurn, TurnFacts>();

export function factsOf(turn: HistoryTurn): TurnFacts {
  let facts = factsByTurn.get(turn);
  if (facts === undefined) {
    const plain = [turn.text.trim(), ...turn.notes].filter((part) => part !== '').join('\n');
    facts = {
      tokens: measureTurn(turn),
      plain,
      named: turn.role === 'user' ? `${turn.authorName.replace(/\s+/g, ' ').trim()}: ${plain}` : plain,
    };
    factsByTurn.set(turn, facts);
  }
  return facts;
}

export function turnTokens(turn: HistoryTurn): number {
  return factsOf(turn).tokens;
}

export function sumTokens(turns: readonly HistoryTurn[]): number {
  let sum = 0;
  for (const turn of turns) sum += factsOf(turn).tokens;
  return sum;
}

function measureTurn(turn: HistoryTurn): number {
  return (
    PER_TURN_OVERHEAD +
    estimateTextTokens(turn.authorName) +
    estimateTextTokens(turn.text) +
    turn.notes.reduce((sum, note) => sum + estimateTextTokens(note), 0) +
    turn.images.reduce((sum, image) => sum + estimateImageTokens(image), 0) +
    (turn.documents ?? []).reduce((sum, document) => sum + estimateDocumentTokens(document.pages), 0)
  );
}
