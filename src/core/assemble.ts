/**
 * Stored thread + instructions + model → one Messages API request. Pure: no I/O, no clock, so
 * the same thread always yields the same bytes (the prompt cache depends on that) and every rule
 * is testable from a table.
 */
import { ThreadlineError } from '../errors.js';
import { limitAttachments } from './attachment-limits.js';
import { withStrideBreakpoints } from './cache-breakpoints.js';
import { documentBlock, type DocumentBlock, type DocumentPart } from './documents/parts.js';
import { estimateDocumentTokens } from './documents/pdf.js';
import type { ModelRules } from './models.js';
import type { ServerToolDefinition } from './web-tools/definitions.js';
import { estimateImageTokens, estimateTextTokens, prefixWithinTokens } from './tokens.js';

export type ImageSource =
  | { readonly type: 'url'; readonly url: string }
  | { readonly type: 'base64'; readonly media_type: string; readonly data: string }
  | { readonly type: 'file'; readonly file_id: string };

export interface ImagePart {
  readonly name: string;
  readonly source: ImageSource;
  readonly width: number | null;
  readonly height: number | null;
}

export interface HistoryTurn {
  readonly role: 'user' | 'assistant' | 'system';
  readonly authorId: string;
  readonly authorName: string;
  readonly text: string;
  /** Only meaningful on user turns; ignored elsewhere (images belong in user turns only). */
  readonly images: readonly ImagePart[];
  /** PDFs, sent as document blocks before the images; user turns only, like images (§13). */
  readonly documents?: readonly DocumentPart[];
  /** Short notes about attachments the model cannot see (type, size, why). */
  readonly notes: readonly string[];
}

export interface AssembleInput {
  readonly rules: ModelRules;
  readonly maxTokens: number;
  /** Top-level system prompt. */
  readonly system: string;
  /** Oldest first; the last `user` turn is the one being answered (system turns may follow it). */
  readonly turns: readonly HistoryTurn[];
  /** Input token budget for the whole request. */
  readonly budgetTokens: number;
}

type CacheControl = { readonly type: 'ephemeral' };
type TextBlock = { type: 'text'; text: string; cache_control?: CacheControl };
type ImageBlock = { type: 'image'; source: ImageSource; cache_control?: CacheControl };
export type ContentBlock = TextBlock | ImageBlock | DocumentBlock;

export interface RequestMessage {
  readonly role: 'user' | 'assistant' | 'system';
  readonly content: ContentBlock[];
}

/** The body sent to `messages.create`. Deliberately has no sampling fields. */
export interface ClaudeRequest {
  readonly model: string;
  readonly max_tokens: number;
  readonly system: TextBlock[];
  readonly messages: RequestMessage[];
  readonly cache_control: { type: 'ephemeral' };
  /** Server tools (web search / fetch), when the thread's settings turn them on: web-tools/definitions.ts. */
  readonly tools?: readonly ServerToolDefinition[];
}

export interface AssembleResult {
  readonly request: ClaudeRequest;
  readonly omittedTurns: number;
  /** Images and PDFs replaced by a note (over count, page or size limits), oldest first. */
  readonly omittedImages: readonly string[];
  /** Those of them posted with the message being answered: the user is told. */
  readonly omittedFromAnswered: readonly string[];
  readonly estimatedInputTokens: number;
}

const PER_TURN_OVERHEAD = 4;
/** Room left for the truncation notice after a message is cut to fit. */
const TRUNCATION_NOTICE_TOKENS = 60;

export function omissionNote(count: number): string {
  return `[${count} earlier message${count === 1 ? ' was' : 's were'} left out of this conversation to fit the context window.]`;
}

export function assemble(input: AssembleInput): AssembleResult {
  return assembleInDetail(input).result;
}

/** What a request was built from, for extending it when the thread only grew (request-builder.ts). */
export interface AssembleDetails {
  readonly result: AssembleResult;
  /** The request's messages before cache breakpoints are marked: what an extension builds on. */
  readonly messages: readonly RequestMessage[];
  /** Input turns the request covers: up to the answered turn and the system turns after it. */
  readonly consumed: number;
  /** The turns sent, after filtering, limits, the cut and placing system turns, in order. */
  readonly sent: readonly HistoryTurn[];
  /** True when the sent turns are exactly the input turns, in order: nothing implied, truncated, cut, moved or re-noted. */
  readonly verbatim: boolean;
  readonly hasSystemTurns: boolean;
  /** Images and PDFs sent, before the limits. */
  readonly imageCount: number;
  readonly multiAuthor: boolean;
  readonly firstAuthor: string | undefined;
  readonly sentTokens: number;
}

export function assembleInDetail(input: AssembleInput): AssembleDetails {
  const answering = indexOfLastUser(input.turns);
  if (answering < 0) throw new ThreadlineError('input_invalid', 'nothing to answer: the thread has no user message');
  const end = answering + 1 + countTrailingSystem(input.turns, answering);

  // One pass over a thread that may be long: what is sent, and what the later steps need to know.
  let turns: HistoryTurn[] = [];
  let imageCount = 0;
  let hasSystemTurns = false;
  let firstAuthor: string | undefined;
  let multiAuthor = false;
  let verbatim = true;
  for (let index = 0; index < end; index += 1) {
    const source = input.turns[index] as HistoryTurn;
    const turn = index === answering ? withImpliedRequest(source) : withoutImagesUnlessUser(source);
    if (turn !== source) verbatim = false;
    if (turn.role === 'system') {
      if (!input.rules.midConversationSystem) continue;
      hasSystemTurns = true;
    }
    if (isEmpty(turn)) continue;
    turns.push(turn);
    imageCount += turn.images.length + (turn.documents?.length ?? 0);
    if (turn.role === 'user') {
      firstAuthor ??= turn.authorId;
      if (turn.authorId !== firstAuthor) multiAuthor = true;
    }
  }

  // PDFs may take most of the budget, never all of it: the conversation's text must fit too.
  const documentTokens = Math.floor((input.budgetTokens - estimateTextTokens(input.system)) * 0.8);
  const images = imageCount === 0 ? { turns, omitted: [] } : limitAttachments(turns, input.rules, documentTokens);
  turns = images.turns;
  const answeredIndex = indexOfLastUser(turns);

  const systemTokens = estimateTextTokens(input.system);
  const budget = input.budgetTokens - systemTokens;
  const total = sumTokens(turns);
  const cut = total <= budget ? 0 : chooseCut(turns, budget);
  const kept = cut === 0 ? turns : turns.slice(cut);
  const keptTokens = cut === 0 ? total : sumTokens(kept);
  const fitted = truncateNewestIfHuge(kept, budget, keptTokens);
  const sentTokens = fitted === kept ? keptTokens : sumTokens(fitted);
  const placed = hasSystemTurns ? placeSystemTurns(fitted) : fitted;
  const messages = toMessages(placed, multiAuthor, cut);

  return {
    result: {
      request: requestOf(input, messages),
      omittedTurns: cut,
      omittedImages: images.omitted.map((entry) => entry.name),
      omittedFromAnswered: images.omitted.filter((entry) => entry.turnIndex === answeredIndex).map((entry) => entry.name),
      estimatedInputTokens: systemTokens + sentTokens,
    },
    messages,
    consumed: end,
    sent: placed,
    verbatim: verbatim && images.omitted.length === 0 && cut === 0 && fitted === kept && sameTurns(placed, fitted),
    hasSystemTurns,
    imageCount,
    multiAuthor,
    firstAuthor,
    sentTokens,
  };
}

/** The body for `messages`, which stay unmarked: the cache breakpoints go on copies (cache-breakpoints.ts). */
export function requestOf(input: AssembleInput, messages: readonly RequestMessage[]): ClaudeRequest {
  return {
    model: input.rules.id,
    max_tokens: Math.min(input.maxTokens, input.rules.maxOutputTokens),
    system: [{ type: 'text', text: input.system, cache_control: { type: 'ephemeral' } }],
    messages: withStrideBreakpoints(messages),
    // Automatic caching: one breakpoint on the last block, so each turn reads the previous turn's prefix.
    cache_control: { type: 'ephemeral' },
  };
}

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

function factsOf(turn: HistoryTurn): TurnFacts {
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

function sumTokens(turns: readonly HistoryTurn[]): number {
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

/**
 * How many of the oldest turns to leave out. The cut only lands on fixed boundaries (every
 * quarter budget of cumulative tokens from the thread's start), so it moves in steps and the
 * cached prefix survives many turns between moves. The newest user turn is never cut.
 */
function chooseCut(turns: readonly HistoryTurn[], budget: number): number {
  const costs = turns.map(turnTokens);
  const total = costs.reduce((sum, cost) => sum + cost, 0);
  if (total <= budget) return 0;
  const protectedFrom = indexOfLastUser(turns);
  const step = Math.max(1, Math.floor(budget / 4));
  let cumulative = 0;
  let fallback = protectedFrom;
  for (let cut = 1; cut <= protectedFrom; cut += 1) {
    const before = cumulative;
    cumulative += costs[cut - 1] as number;
    if (total - cumulative > budget) continue;
    if (fallback === protectedFrom) fallback = cut;
    if (Math.floor(cumulative / step) > Math.floor(before / step)) return cut;
  }
  return fallback;
}

/** A single message larger than the whole budget is shortened rather than sent to a sure 400. */
function truncateNewestIfHuge(turns: HistoryTurn[], budget: number, totalTokens: number): HistoryTurn[] {
  const last = indexOfLastUser(turns);
  const turn = turns[last];
  if (turn === undefined) return turns;
  const othersCost = totalTokens - turnTokens(turn);
  const room =
    budget -
    othersCost -
    turn.images.reduce((sum, image) => sum + estimateImageTokens(image), 0) -
    (turn.documents ?? []).reduce((sum, document) => sum + estimateDocumentTokens(document.pages), 0);
  if (estimateTextTokens(turn.text) <= room) return turns;
  const keepChars = prefixWithinTokens(turn.text, Math.max(0, room - TRUNCATION_NOTICE_TOKENS));
  const shortened = { ...turn, text: `${turn.text.slice(0, keepChars)}\n[message truncated: it was ${turn.text.length} characters, too long for the context window]` };
  return turns.map((t, i) => (i === last ? shortened : t));
}

function toMessages(ordered: readonly HistoryTurn[], multiAuthor: boolean, omitted: number): RequestMessage[] {
  const messages: RequestMessage[] = [];
  for (const turn of ordered) appendTurn(messages, turn, multiAuthor);
  const first = messages[0];
  const note = omitted > 0 ? omissionNote(omitted) : undefined;
  if (first === undefined || first.role !== 'user') {
    messages.unshift({ role: 'user', content: [{ type: 'text', text: note ?? '(The conversation starts with an earlier message from you.)' }] });
  } else if (note !== undefined) {
    first.content.unshift({ type: 'text', text: note });
  }
  return messages;
}

/** Adds one turn to the messages being built, merging it into the last one when the role is the same. */
export function appendTurn(messages: RequestMessage[], turn: HistoryTurn, multiAuthor: boolean): void {
  const blocks: ContentBlock[] = [];
  if (turn.role === 'user') {
    // Documents first, then images, then the text that asks about them (the order the docs advise).
    for (const document of turn.documents ?? []) blocks.push(documentBlock(document));
    for (const image of turn.images) blocks.push({ type: 'image', source: image.source });
  }
  const facts = factsOf(turn);
  const text = multiAuthor ? facts.named : facts.plain;
  if (text !== '') blocks.push({ type: 'text', text });
  if (blocks.length === 0) return;
  const previous = messages[messages.length - 1];
  // The API would merge consecutive same-role turns anyway; merging here keeps the blocks we send explicit.
  if (previous !== undefined && previous.role === turn.role) previous.content.push(...blocks);
  else messages.push({ role: turn.role, content: blocks });
}

/**
 * Mid-conversation system turns must directly follow a user turn and be last or followed by an
 * assistant turn (§6). One whose answer never got stored (refusal, error) is followed by the next
 * user turn: it moves past those user turns, which merge with the one before it anyway. One that
 * can still not be placed (its user turn was deleted) is dropped rather than sent to a 400.
 */
function placeSystemTurns(turns: readonly HistoryTurn[]): HistoryTurn[] {
  const result = [...turns];
  for (let i = 0; i < result.length; i += 1) {
    if (result[i]?.role !== 'system') continue;
    let j = i;
    while (result[j + 1]?.role === 'user') {
      [result[j], result[j + 1]] = [result[j + 1] as HistoryTurn, result[j] as HistoryTurn];
      j += 1;
    }
    i = j;
  }
  return result.filter((turn, i) => {
    if (turn.role !== 'system') return true;
    const previous = prevNonSystem(result, i);
    return previous?.role === 'user';
  });
}

function sameTurns(a: readonly HistoryTurn[], b: readonly HistoryTurn[]): boolean {
  return a === b || (a.length === b.length && a.every((turn, i) => turn === b[i]));
}

function prevNonSystem(turns: readonly HistoryTurn[], index: number): HistoryTurn | undefined {
  for (let i = index - 1; i >= 0; i -= 1) if (turns[i]?.role !== 'system') return turns[i];
  return undefined;
}
