/**
 * The Messages API's rules for server tools (anthropic-api-rules.md §14), as a pure validator
 * the fake calls from `validateRequest`: tool definitions per model, and server tool blocks in
 * the history (only in assistant turns, each `server_tool_use` answered by its result in the
 * same turn, blocks and citations sent back exactly as the API produced them).
 */
import type { ApiRuleError } from './anthropic-rules.js';

const bad = (message: string): ApiRuleError => ({ status: 400, type: 'invalid_request_error', message });

const SEARCH_TYPES = new Set(['web_search_20250305', 'web_search_20260209', 'web_search_20260318']);
const FETCH_TYPES = new Set(['web_fetch_20250910', 'web_fetch_20260209', 'web_fetch_20260309', 'web_fetch_20260318']);
const SEARCH_FIELDS = new Set(['type', 'name', 'max_uses', 'allowed_domains', 'blocked_domains', 'user_location', 'cache_control', 'allowed_callers', 'defer_loading', 'strict']);
const FETCH_FIELDS = new Set(['type', 'name', 'max_uses', 'allowed_domains', 'blocked_domains', 'citations', 'max_content_tokens', 'cache_control', 'allowed_callers', 'defer_loading', 'strict']);
/** [fake] Models with programmatic tool calling, where the 2026 tool versions need no `allowed_callers`. */
const PROGRAMMATIC_TOOL_MODELS = new Set(['claude-opus-4-8', 'claude-opus-5', 'claude-opus-5-5', 'claude-sonnet-5', 'claude-sonnet-5-5', 'claude-fable-5', 'claude-mythos-5']);
export const SERVER_TOOL_BLOCKS = new Set(['server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result']);

type Block = Record<string, unknown>;

export interface EmittedRegistry {
  /** Canonical JSON of every server tool block the fake sent, by `server_tool_use` id. */
  readonly blocks: ReadonlyMap<string, { readonly use: string; readonly result: string }>;
  /** Every `encrypted_index` a citation carried. */
  readonly encryptedIndexes: ReadonlySet<string>;
}

/** The server tools of a request by name, or an error for a definition the API refuses. */
export function validateTools(tools: unknown, modelId: string, serverTools = true): ApiRuleError | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) return bad('tools: Input should be a valid list');
  const names = new Set<string>();
  for (let i = 0; i < tools.length; i += 1) {
    const tool = tools[i] as Block;
    const type = String(tool.type ?? 'custom');
    const path = `tools.${i}`;
    if ((SEARCH_TYPES.has(type) || FETCH_TYPES.has(type)) && !serverTools) {
      return bad(`${path}: Input tag '${type}' found using 'type' does not match any of the expected tags`);
    }
    if (SEARCH_TYPES.has(type) || FETCH_TYPES.has(type)) {
      const search = SEARCH_TYPES.has(type);
      const fields = search ? SEARCH_FIELDS : FETCH_FIELDS;
      for (const key of Object.keys(tool)) if (!fields.has(key)) return bad(`${path}.${type}.${key}: Extra inputs are not permitted`);
      const expected = search ? 'web_search' : 'web_fetch';
      if (tool.name !== expected) return bad(`${path}.${type}.name: Input should be '${expected}'`);
      if (tool.max_uses !== undefined && (!Number.isInteger(tool.max_uses) || (tool.max_uses as number) < 1)) {
        return bad(`${path}.${type}.max_uses: Input should be greater than 0`);
      }
      if (tool.allowed_domains !== undefined && tool.blocked_domains !== undefined) {
        return bad(`${path}: Cannot specify both allowed_domains and blocked_domains`);
      }
      if (type.includes('_2026') && !PROGRAMMATIC_TOOL_MODELS.has(modelId.replace(/-\d{8}$/, ''))) {
        const callers = tool.allowed_callers;
        if (!Array.isArray(callers) || callers.length !== 1 || callers[0] !== 'direct') {
          return bad(`${path}.${type}: this tool version needs programmatic tool calling, which ${modelId} does not support; set allowed_callers: ["direct"]`);
        }
      }
    } else if (type === 'custom') {
      if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name)) return bad(`${path}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
      if ((tool.input_schema as Block | undefined)?.type !== 'object') return bad(`${path}.custom.input_schema.type: Input should be 'object'`);
    } else {
      return bad(`${path}: Input tag '${type}' found using 'type' does not match any of the expected tags`);
    }
    const name = String(tool.name);
    if (names.has(name)) return bad('tools: Tool names must be unique.');
    names.add(name);
  }
  return undefined;
}

export function toolNames(tools: unknown): Set<string> {
  return new Set(Array.isArray(tools) ? tools.map((tool: Block) => String(tool.name)) : []);
}

/**
 * Server tool blocks and web citations in one message. `index` is the message's position;
 * `available` the request's tool names; `emitted` what the fake produced so far.
 */
export function validateToolBlocks(role: string, blocks: readonly Block[], index: number, available: ReadonlySet<string>, emitted: EmittedRegistry | undefined): ApiRuleError | undefined {
  const open = new Map<string, number>();
  for (let b = 0; b < blocks.length; b += 1) {
    const block = blocks[b] as Block;
    const path = `messages.${index}.content.${b}`;
    const type = String(block.type);
    if (SERVER_TOOL_BLOCKS.has(type) && role !== 'assistant') return bad(`${path}: ${type} blocks are only allowed in assistant messages`);
    if (type === 'server_tool_use') {
      const id = String(block.id);
      const name = String(block.name);
      if (!available.has(name)) return bad(`${path}: server_tool_use for ${name}, but the request does not define that tool`);
      const known = emitted?.blocks.get(id);
      if (emitted !== undefined && (known === undefined || known.use !== canonical(block))) return bad(`${path}: server_tool_use ${id} was not produced by the API or was modified`);
      open.set(id, b);
    } else if (type === 'web_search_tool_result' || type === 'web_fetch_tool_result') {
      const id = String(block.tool_use_id);
      if (!open.has(id)) return bad(`${path}: unexpected \`tool_use_id\` found in \`${type}\` blocks: ${id}. Each result must follow its server_tool_use in the same message`);
      open.delete(id);
      if (emitted !== undefined && emitted.blocks.get(id)?.result !== canonical(block)) return bad(`${path}: ${type} for ${id} must be sent back exactly as received (encrypted content included)`);
    } else if (type === 'text' && Array.isArray(block.citations)) {
      for (const citation of block.citations as Block[]) {
        if (citation.type === 'web_search_result_location' && emitted !== undefined && !emitted.encryptedIndexes.has(String(citation.encrypted_index))) {
          return bad(`${path}.citations: invalid encrypted_index in web_search_result_location`);
        }
      }
    }
  }
  if (open.size > 0) {
    const ids = [...open.keys()].join(', ');
    return bad(`messages.${index}: \`server_tool_use\` ids were found without result blocks immediately after: ${ids}`);
  }
  return undefined;
}

/** A final assistant message that carries server tool blocks continues a paused turn; it is no prefill. */
export function continuesPausedTurn(blocks: readonly Block[]): boolean {
  return blocks.some((block) => SERVER_TOOL_BLOCKS.has(String(block.type)));
}

/** JSON with sorted keys and no cache markers: "exactly as received" whatever the key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    if (key === 'cache_control') continue;
    const inner = (value as Record<string, unknown>)[key];
    if (inner !== undefined) out[key] = sortKeys(inner);
  }
  return out;
}
