/**
 * Web search and web fetch as the Messages API runs them (anthropic-api-rules.md §14), for the
 * fake: deterministic pages and search results, `server_tool_use` + result blocks, cited text,
 * `max_uses`, the error codes, `pause_turn` and its continuation, and `usage.server_tool_use`.
 *
 * The "model" calls a tool only when the request offers it: the calls a reply scripts
 * (`ScriptedReply.toolCalls`), or, when the fake was given a corpus (`web`, even `{}`), by
 * default a fetch of each link in the last user message and, when that message says "search",
 * one search for it.
 */
import { createHash } from 'node:crypto';
import { canonical, type EmittedRegistry } from './anthropic-tool-rules.js';

export type FakeToolCall =
  | { readonly search: string; readonly error?: string }
  | { readonly fetch: string; readonly error?: string };

export interface FakeWebPage {
  readonly title: string;
  readonly text: string;
  /** Fetching it fails with this error code (`url_not_accessible`, `unsupported_content_type`, …). */
  readonly error?: string;
}

export interface FakeSearchResult {
  readonly url: string;
  readonly title: string;
}

export interface FakeWebCorpus {
  /** Pages by URL; any other http(s) URL is a generated page. */
  readonly pages?: Readonly<Record<string, FakeWebPage>>;
  /** Results by exact query; any other query gets three generated results. */
  readonly searches?: Readonly<Record<string, readonly FakeSearchResult[]>>;
}

/** The web part of a scripted reply. */
export interface WebScript {
  /** Tool calls before the answer, in order; `[]` for none (overrides the default behaviour). */
  readonly toolCalls?: readonly FakeToolCall[];
  /** Pause (`pause_turn`) after each of the first N tool calls; the rest follows when the turn is continued. */
  readonly pauses?: number;
  /** Text before the first tool call ("Let me look that up."). */
  readonly preamble?: string;
  /** The continuation of the paused turn answers this HTTP error instead (529, 500…). */
  readonly continuationStatus?: number;
}

export interface WebTurn {
  readonly content: Array<Record<string, unknown>>;
  readonly stopReason: 'end_turn' | 'pause_turn';
  readonly serverToolUse: { web_search_requests: number; web_fetch_requests: number };
}

type Block = Record<string, unknown>;
interface Message {
  readonly role: string;
  readonly content: unknown;
}

interface PausedTurn {
  readonly script: WebScript & { readonly text?: string };
  readonly remaining: readonly FakeToolCall[];
  readonly pausesLeft: number;
}

const RETRIEVED_AT = '2026-11-01T00:00:00Z';

export class FakeWeb {
  private readonly blocks = new Map<string, { use: string; result: string }>();
  private readonly encryptedIndexes = new Set<string>();
  private readonly paused = new Map<string, PausedTurn>();
  private nextId = 1;

  /** Without a corpus, tools are called only where a reply scripts them. */
  constructor(private readonly corpus: FakeWebCorpus | undefined) {}

  get registry(): EmittedRegistry {
    return { blocks: this.blocks, encryptedIndexes: this.encryptedIndexes };
  }

  /** The rest of a paused turn, when the request continues one (its last message is the paused content). */
  continuation(body: Record<string, unknown>): PausedTurn | undefined {
    const messages = (body.messages as Message[]) ?? [];
    const last = messages[messages.length - 1];
    if (last?.role !== 'assistant' || !Array.isArray(last.content)) return undefined;
    return this.paused.get(canonical(last.content));
  }

  /**
   * The turn for this request, or undefined when it uses no tool (the fake's plain text path).
   * `text` is the answer after the tools (undefined: the fake's echo).
   */
  turn(body: Record<string, unknown>, script: WebScript & { readonly text?: string }, echo: string): WebTurn | undefined {
    const tools = (Array.isArray(body.tools) ? body.tools : []) as Block[];
    const searchTool = tools.find((tool) => tool.name === 'web_search');
    const fetchTool = tools.find((tool) => tool.name === 'web_fetch');
    if (searchTool === undefined && fetchTool === undefined) return undefined;
    const resumed = this.continuation(body);
    const messages = (body.messages as Message[]) ?? [];
    const priorContent = resumed === undefined ? [] : ((messages[messages.length - 1]?.content as Block[]) ?? []);
    const active = resumed?.script ?? script;
    const planned = resumed?.remaining ?? active.toolCalls ?? (this.corpus === undefined ? [] : defaultCalls(lastUserText(messages)));
    const calls = planned.filter((call) => ('search' in call ? searchTool !== undefined : fetchTool !== undefined));
    if (resumed === undefined && calls.length === 0) return undefined;

    const pausesLeft = resumed?.pausesLeft ?? active.pauses ?? 0;
    const now = pausesLeft > 0 ? calls.slice(0, 1) : calls;
    const content: Block[] = [];
    if (resumed === undefined && active.preamble !== undefined) content.push({ type: 'text', text: active.preamble });
    const used = { search: countUses(priorContent, 'web_search'), fetch: countUses(priorContent, 'web_fetch') };
    const usage = { web_search_requests: 0, web_fetch_requests: 0 };
    const known = knownUrls(messages);
    for (const call of now) {
      const id = `srvtoolu_fake${String(this.nextId++).padStart(6, '0')}`;
      if ('search' in call) {
        used.search += 1;
        const use = { type: 'server_tool_use', id, name: 'web_search', input: { query: call.search } };
        const error = call.error ?? (used.search > maxUses(searchTool) ? 'max_uses_exceeded' : undefined);
        const results = error === undefined ? this.search(call.search) : [];
        for (const result of results) known.add(result.url);
        const result = {
          type: 'web_search_tool_result',
          tool_use_id: id,
          content:
            error === undefined
              ? results.map((r) => ({ type: 'web_search_result', url: r.url, title: r.title, encrypted_content: encrypt('content', r.url), page_age: 'November 1, 2026' }))
              : { type: 'web_search_tool_result_error', error_code: error },
        };
        if (error === undefined) usage.web_search_requests += 1;
        this.emit(use, result, content);
      } else {
        used.fetch += 1;
        const use = { type: 'server_tool_use', id, name: 'web_fetch', input: { url: call.fetch } };
        const page = this.page(call.fetch);
        const error =
          call.error ??
          (used.fetch > maxUses(fetchTool)
            ? 'max_uses_exceeded'
            : call.fetch.length > 250
              ? 'url_too_long'
              : !known.has(call.fetch)
                ? 'url_not_in_prior_context'
                : page.error);
        const citations = (fetchTool?.citations as { enabled?: boolean } | undefined)?.enabled === true;
        const result = {
          type: 'web_fetch_tool_result',
          tool_use_id: id,
          content:
            error === undefined
              ? {
                  type: 'web_fetch_result',
                  url: call.fetch,
                  retrieved_at: RETRIEVED_AT,
                  content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: page.text }, title: page.title, citations: { enabled: citations } },
                }
              : { type: 'web_fetch_tool_result_error', error_code: error },
        };
        if (error === undefined) usage.web_fetch_requests += 1;
        this.emit(use, result, content);
      }
    }
    const rest = calls.slice(now.length);
    if (pausesLeft > 0 && (rest.length > 0 || pausesLeft > 1 || now.length > 0)) {
      this.paused.set(canonical([...priorContent, ...content]), { script: active, remaining: rest, pausesLeft: pausesLeft - 1 });
      return { content, stopReason: 'pause_turn', serverToolUse: usage };
    }
    content.push(...this.citedText([...priorContent, ...content], fetchTool));
    const answer = active.text ?? echo;
    if (answer !== '') content.push({ type: 'text', text: answer });
    return { content, stopReason: 'end_turn', serverToolUse: usage };
  }

  /** One cited sentence per good result of the whole turn: the first two hits of a search, each page read. */
  private citedText(turn: readonly Block[], fetchTool: Block | undefined): Block[] {
    const out: Block[] = [];
    let documentIndex = 0;
    for (const block of turn) {
      if (block.type === 'web_search_tool_result' && Array.isArray(block.content)) {
        for (const hit of (block.content as Block[]).slice(0, 2)) {
          const url = String(hit.url);
          const cited = `${String(hit.title)} is the top result.`;
          const encryptedIndex = encrypt('index', url);
          this.encryptedIndexes.add(encryptedIndex);
          out.push({ type: 'text', text: `${cited} `, citations: [{ type: 'web_search_result_location', url, title: hit.title, encrypted_index: encryptedIndex, cited_text: cited }] });
        }
      } else if (block.type === 'web_fetch_tool_result' && (block.content as Block).type === 'web_fetch_result') {
        const fetched = block.content as { url: string; content: { title: string; source: { data: string } } };
        const text = fetched.content.source.data;
        const cited = text.slice(0, Math.min(text.length, 150));
        const citations = (fetchTool?.citations as { enabled?: boolean } | undefined)?.enabled === true;
        out.push({
          type: 'text',
          text: `The page says: ${cited} `,
          ...(citations
            ? { citations: [{ type: 'char_location', cited_text: cited, document_index: documentIndex, document_title: fetched.content.title, start_char_index: 0, end_char_index: cited.length }] }
            : {}),
        });
        documentIndex += 1;
      }
    }
    return out;
  }

  private emit(use: Block, result: Block, content: Block[]): void {
    this.blocks.set(String(use.id), { use: canonical(use), result: canonical(result) });
    content.push(use, result);
  }

  private search(query: string): readonly FakeSearchResult[] {
    const scripted = this.corpus?.searches?.[query];
    if (scripted !== undefined) return scripted;
    const slug = query.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'query';
    return [1, 2, 3].map((n) => ({ url: `https://results.example/${slug}/${n}`, title: `Result ${n} for ${query}` }));
  }

  private page(url: string): FakeWebPage {
    const scripted = this.corpus?.pages?.[url];
    if (scripted !== undefined) return scripted;
    let host = url;
    try {
      host = new URL(url).host;
    } catch {
      return { title: url, text: '', error: 'invalid_tool_input' };
    }
    return { title: `Page at ${host}`, text: `This is the page at ${url}. It has deterministic content for tests.` };
  }
}

function defaultCalls(userText: string): FakeToolCall[] {
  const calls: FakeToolCall[] = [];
  if (/\bsearch\b/i.test(userText)) calls.push({ search: userText.replace(/\s+/g, ' ').trim().slice(0, 100) });
  for (const url of userText.match(/https?:\/\/[^\s<>)]+/g) ?? []) calls.push({ fetch: url });
  return calls;
}

function maxUses(tool: Block | undefined): number {
  return typeof tool?.max_uses === 'number' ? tool.max_uses : Number.POSITIVE_INFINITY;
}

function countUses(content: readonly Block[], name: string): number {
  return content.filter((block) => block.type === 'server_tool_use' && block.name === name).length;
}

/** URLs fetch may open (§14): those in user text and in search results earlier in the conversation. */
function knownUrls(messages: readonly Message[]): Set<string> {
  const urls = new Set<string>();
  for (const message of messages) {
    const blocks: Block[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : ((message.content as Block[]) ?? []);
    for (const block of blocks) {
      if (block.type === 'text' && message.role === 'user') for (const url of String(block.text).match(/https?:\/\/[^\s<>)]+/g) ?? []) urls.add(url);
      if (block.type === 'web_search_tool_result' && Array.isArray(block.content)) for (const hit of block.content as Block[]) urls.add(String(hit.url));
    }
  }
  return urls;
}

function lastUserText(messages: readonly Message[]): string {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i] as Message;
    if (message.role !== 'user') continue;
    if (typeof message.content === 'string') return message.content;
    const texts = (message.content as Block[]).filter((block) => block.type === 'text');
    return String(texts[texts.length - 1]?.text ?? '');
  }
  return '';
}

function encrypt(kind: string, url: string): string {
  return `Enc${kind}_${createHash('sha256').update(`${kind}:${url}`).digest('base64url').slice(0, 32)}`;
}

