/**
 * The contract between adapters and the core. Adapters translate platform events into these
 * shapes and render the core's replies; everything else (dedupe, ordering, history, the model
 * call, errors) happens in the core once.
 */
import type { ErrorCode } from '../errors.js';
import type { SuggestedPrompt, ViewedChannel } from './assistant-panel.js';
import type { CommandReply, InstructionsCommand } from './instructions.js';
import type { EffectiveSettings } from './settings/resolve.js';
import type { SettingsCommand } from './settings/service.js';
import type { Source, ToolActivity } from './web-tools/types.js';

export type { Source, ToolActivity } from './web-tools/types.js';

export type Platform = 'discord' | 'slack' | 'web';

/** One conversation. `channelId` is the channel whose instructions apply (Discord: a thread's parent). */
export interface ThreadRef {
  readonly platform: Platform;
  /** Discord guild id or Slack team id; `dm` for Discord direct messages. */
  readonly workspaceId: string;
  readonly channelId: string;
  /** Discord: the thread (or DM) channel id. Slack: `<channel>:<thread_ts>` (or `<channel>` for a DM). */
  readonly threadKey: string;
}

export interface AttachmentInput {
  /** Platform attachment / file id. */
  readonly id: string;
  readonly name: string;
  readonly mediaType: string | null;
  readonly size: number | null;
  readonly width?: number | null;
  readonly height?: number | null;
  /** Discord: signed CDN URL. Slack: `url_private` (needs the bot token). */
  readonly url: string;
  /** Epoch ms after which `url` stops working (Discord `ex`), when known. */
  readonly urlExpiresAt?: number | null;
}

export type AuthorKind = 'user' | 'bot' | 'self';

export interface InboundMessage {
  readonly thread: ThreadRef;
  /** Platform message id (Discord snowflake, Slack ts). Unique within the thread. */
  readonly messageId: string;
  readonly author: {
    readonly id: string;
    readonly name: string;
    readonly kind: AuthorKind;
    /** Discord: the member's role ids, for the `roles` setting. Unknown (undefined) counts as none. */
    readonly roleIds?: readonly string[];
    /** The author may administer the bot here (Discord: Manage Server); admins pass the `roles` setting. */
    readonly isAdmin?: boolean;
  };
  /** Text already decoded for the model (mentions rendered as names, the bot's own mention removed). */
  readonly text: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly attachments: readonly AttachmentInput[];
  /** The message addresses the bot explicitly (mention). */
  readonly mentionsBot: boolean;
  /** A direct message: always answered. */
  readonly isDirect: boolean;
  /** Extra delivery keys to dedupe on (Slack `event_id`); message id dedupe is implicit. */
  readonly dedupeKeys?: readonly string[];
}

/** A message the bot posted, in order; the first is the reply's anchor. */
export type PostedIds = readonly string[];

/** What a sink learns when its answer starts: enough to put buttons on it. */
export interface ReplyStartInfo {
  /** Names the answer in button ids (`controlId` in core/answer-controls/control-ids.ts). */
  readonly answerId: string;
}

export interface FinalReply {
  /** The model's answer (what is stored as the assistant turn). */
  readonly text: string;
  /** A short note to show under the answer, never stored as model text (e.g. "cut at the length limit"). */
  readonly note?: string;
  /** Pages the answer cites (web search / fetch), deduplicated, at most five: shown as a numbered list after it. */
  readonly sources?: readonly Source[];
}

/**
 * Where one answer goes. The core calls `start` once, `progress` any number of times while the
 * model streams (full text so far), then exactly one of `finish` or `fail`.
 */
export interface ReplySink {
  /** Aborted when the user stops the answer on the platform (Slack's stop button): the model call ends. */
  readonly signal?: AbortSignal;
  start(info?: ReplyStartInfo): Promise<void>;
  progress?(textSoFar: string): void;
  /** The model is thinking (adaptive thinking) before it writes: show "thinking…". */
  thinking?(): void;
  /** A web search or fetch started running: show it ("searching the web…", "reading example.com…") until text follows. */
  activity?(activity: ToolActivity): void;
  /** The model call left the queue (it may wait behind the API's limits first): text is coming soon. */
  modelStarted?(): void;
  finish(reply: FinalReply): Promise<PostedIds>;
  /** Replace anything shown so far with a short explanation for the user. */
  fail(userMessage: string, code: ErrorCode): Promise<PostedIds>;
}

export interface InboundContext {
  /** Made only when the core decides to answer. */
  readonly sink: () => ReplySink;
  /**
   * The thread's earlier messages, oldest first, read from the platform. Called at most once per
   * thread, the first time the bot must answer in a thread it has no record of.
   */
  readonly fetchHistory?: () => Promise<readonly InboundMessage[]>;
  /**
   * Called once the message is durably stored, or known to need nothing: the moment a platform
   * that redelivers unacknowledged events may be told it arrived.
   */
  readonly onAccepted?: () => void;
}

export type HandleOutcome =
  | { readonly kind: 'ignored'; readonly reason: 'self' | 'duplicate' | 'deleted' | 'not_participating' }
  | { readonly kind: 'recorded' }
  | { readonly kind: 'limited'; readonly code: ErrorCode; readonly retryAfterMs: number; readonly postedIds: PostedIds }
  /** `stopped`: the asker pressed Stop; the partial answer is what was posted and stored. */
  | { readonly kind: 'answered'; readonly postedIds: PostedIds; readonly stopped?: true }
  /** `/settings` says no: answers are off here, or the author holds none of the allowed roles. */
  | { readonly kind: 'refused'; readonly code: 'answers_off' | 'not_allowed'; readonly postedIds: PostedIds }
  | { readonly kind: 'failed'; readonly code: ErrorCode; readonly postedIds: PostedIds };

export interface RefreshedUrl {
  readonly url: string;
  /** Epoch ms, when the platform says. */
  readonly expiresAt: number | null;
}

/** What a platform lends the core to read attachments; registered by its adapter. */
export interface PlatformServices {
  /** The Messages API can fetch this platform's attachment URLs itself (Discord's signed CDN links). */
  readonly urlsArePublic: boolean;
  /** Fresh URLs for expired ones, in one batch; an URL missing from the map could not be refreshed. */
  refreshUrls?(urls: readonly string[]): Promise<ReadonlyMap<string, RefreshedUrl>>;
  /** The bytes behind an attachment URL, with the platform's credentials where it needs them. */
  download?(url: string, maxBytes: number): Promise<{ readonly bytes: Uint8Array; readonly contentType: string | null }>;
  /**
   * A sink that answers a stored message without an inbound event: mentions left unanswered by
   * a crash or restart are answered through it.
   */
  replySink?(thread: ThreadRef, messageId: string): ReplySink;
  /**
   * Deletes the bot's own messages after `messageId` in the thread, except those in `keep`: what
   * a run that died between posting a reply and recording it left behind. Returns how many went.
   */
  removeStrayReplies?(thread: ThreadRef, messageId: string, keep: ReadonlySet<string>): Promise<number>;
  /**
   * A sink that writes a regenerated answer into the messages of the old one (`postedIds`, first
   * first): edits them, posts parts that are missing, deletes the ones left over.
   */
  replaceSink?(thread: ThreadRef, questionMessageId: string, postedIds: PostedIds): ReplySink;
}

/** A press on a button of an answer (Stop, Regenerate, 👍, 👎). */
export interface ControlPress {
  readonly platform: Platform;
  /** Discord guild id (`dm` in DMs) or Slack team id: must be the answer's own. */
  readonly workspaceId: string;
  /** The button's custom id / value, as the bot put it on the message. */
  readonly controlId: string;
  readonly actor: { readonly id: string; readonly name: string; readonly isAdmin: boolean };
}

/** The outcome of a press; `text`, when present, is shown to the presser alone. */
export interface ControlReply {
  readonly text?: string;
}

/** What adapters call. Implemented by `ChatService`; adapters depend on this shape only. */
export interface ChatCore {
  /**
   * Every inbound message of a conversation the bot can see. The core dedupes (message id and
   * `dedupeKeys`), skips its own posts, records the turn when the thread is one the bot takes
   * part in, decides whether to answer (mention, DM, or follow-up in a thread it answered) and
   * answers in per-thread order. Resolves when the message is fully dealt with.
   */
  handle(msg: InboundMessage, ctx: InboundContext): Promise<HandleOutcome>;
  /**
   * A platform edit: the stored turn follows it. Ordered with the thread's creates (an edit of a
   * message still being taken in lands after it); one whose message has not arrived yet waits
   * for it briefly. Resolves once applied.
   */
  recordEdit(thread: ThreadRef, messageId: string, text: string, attachments?: readonly AttachmentInput[]): Promise<void>;
  /**
   * A platform delete: the stored turn is removed, and a pending answer to it is dropped. Ordered
   * like edits; a delete that arrives before its message leaves a tombstone, so the message is
   * recorded as deleted and never answered. Resolves once applied.
   */
  recordDelete(thread: ThreadRef, messageId: string): Promise<void>;
  /**
   * Threads with stored activity since `sinceMs`, with the newest stored platform message id someone
   * other than the bot wrote (catch-up reads on from it; null when there is none: a forgotten thread).
   */
  recentThreads(platform: Platform, sinceMs: number): Promise<Array<{ thread: ThreadRef; lastMessageId: string | null }>>;
  /** Record messages read from the platform (catch-up after missed events) without answering. */
  ingest(msgs: readonly InboundMessage[]): Promise<void>;
  /** `/instructions` on either platform; the adapter decides `actor.isAdmin` from platform facts. */
  runInstructionsCommand(command: InstructionsCommand): Promise<CommandReply>;
  /** `/settings` on either platform; the adapter decides `actor.isAdmin` from platform facts. */
  runSettingsCommand(command: SettingsCommand): Promise<CommandReply>;
  /**
   * The settings that apply in a channel (Discord threads: their parent channel), each value
   * with its source (`default`, `workspace`, `channel`). From memory after a scope's first read; cheap on every event.
   */
  effectiveSettings(platform: Platform, workspaceId: string, channelId: string): Promise<EffectiveSettings>;
  /** Autocomplete for `/settings set value:` (model ids the API lists, on/off). */
  settingValueChoices(platform: Platform, key: string | undefined, typed: string): Promise<string[]>;
  /**
   * Whether `/settings` lets this message be answered here (answers on, author allowed). Adapters
   * ask before doing visible work for a message (Discord: opening a thread); `handle` decides anyway.
   */
  answersAllowed(msg: InboundMessage): Promise<boolean>;
  /** An adapter lends the core its attachment access (URL refresh, authenticated download) and reply sinks. */
  registerPlatform(platform: Platform, services: PlatformServices): void;
  /** Answers (or apologizes for) the mentions a previous run left unanswered; call once the platform is connected. */
  resumePending(platform: Platform): Promise<void>;
  /** `/usage`: token use by channel and user over the last `days` days (admins only). */
  runUsageCommand(command: UsageCommand): Promise<CommandReply>;
  /** `/forget` in a thread: removes its stored history (admins only). */
  forgetThread(thread: ThreadRef, actor: { readonly id: string; readonly isAdmin: boolean }): Promise<CommandReply>;
  /** A button on an answer was pressed; answers at once (a regeneration goes on afterwards). */
  pressControl(press: ControlPress): Promise<ControlReply>;
  /** Slack assistant panel: a thread opened; what to greet and suggest. `viewing`: the channel the user looks at. */
  assistantThreadStarted(thread: ThreadRef, viewing: ViewedChannel | null): Promise<{ readonly greeting: string; readonly prompts: readonly SuggestedPrompt[] }>;
  /** Slack assistant panel: the user now looks at another channel (told to the model with the next answers). */
  assistantContextChanged(thread: ThreadRef, viewing: ViewedChannel | null): Promise<void>;
  /** Slack assistant panel: the title for a thread's first question, or undefined (later questions, other threads). */
  assistantTitle(thread: ThreadRef, question: string): Promise<string | undefined>;
}

export interface UsageCommand {
  readonly platform: Platform;
  readonly workspaceId: string;
  readonly actor: { readonly id: string; readonly name: string; readonly isAdmin: boolean };
  readonly days: number;
  /** Turns a platform id into a readable name for the report (channel or user). */
  readonly label?: (kind: 'channel' | 'user', id: string) => string;
}

/** A stored message as a reader sees it (the playground shows threads back from the store). */
export interface ThreadEntry {
  readonly messageId: string;
  readonly author: { readonly id: string; readonly name: string; readonly kind: 'user' | 'bot' | 'self' };
  /** An answer's text; '' for an answer that failed (the apology is never stored). */
  readonly text: string;
  readonly createdAt: number;
  /** The message an answer answers. */
  readonly replyTo: string | null;
  /** An answer's id in button ids (`controlId`, as `ReplyStartInfo.answerId`); absent on other messages. */
  readonly answerId?: string;
  readonly attachments: ReadonlyArray<{ readonly id: string; readonly name: string; readonly mediaType: string | null; readonly url: string }>;
}

export interface ThreadSummary {
  readonly thread: ThreadRef;
  /** The first words of the thread's first message. */
  readonly title: string;
  readonly lastActivityAt: number;
}

/** Reading stored threads back, for an adapter whose platform keeps no history of its own (the playground). */
export interface ThreadReader {
  listThreads(platform: Platform, workspaceId: string): Promise<ThreadSummary[]>;
  /** Undefined when the store has no such thread. */
  readThread(thread: ThreadRef): Promise<ThreadEntry[] | undefined>;
}
