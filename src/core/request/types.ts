/** The shapes a request is built from (the stored thread's turns) and built into (the Messages API body). */
import type { DocumentBlock, DocumentPart } from '../documents/parts.js';
import type { ModelRules } from '../models.js';
import type { ServerToolDefinition } from '../web-tools/definitions.js';

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

export type CacheControl = { readonly type: 'ephemeral' };
export type TextBlock = { type: 'text'; text: string; cache_control?: CacheControl };
export type ImageBlock = { type: 'image'; source: ImageSource; cache_control?: CacheControl };
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
