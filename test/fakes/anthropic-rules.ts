import { continuesPausedTurn, SERVER_TOOL_BLOCKS, toolNames, validateToolBlocks, validateTools, type EmittedRegistry } from './anthropic-tool-rules.js';

/**
 * The Messages API's request rules as a pure validator (../shared/reference/anthropic-api-rules.md).
 * Kept apart from the server so unit tests can run every rule against every request the core
 * can build. Its model table is written independently of src/core/models.ts on purpose: a
 * mistake in the bot's table must show up as a 400 here, not be copied.
 */

export interface ApiRuleError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

interface FakeModel {
  readonly maxOutput: number;
  readonly systemMessages: boolean;
  readonly prefill: boolean;
  readonly maxImages: number;
  /** Input tokens at most: 200k on the models limited to 100 images (§7), 1M on the others. */
  readonly contextWindow: number;
}

const M = (maxOutput: number, systemMessages: boolean, prefill: boolean, maxImages: number): FakeModel => ({
  maxOutput,
  systemMessages,
  prefill,
  maxImages,
  contextWindow: maxImages === 100 ? 200_000 : 1_000_000,
});

export const FAKE_MODELS: Record<string, FakeModel> = {
  'claude-opus-4-8': M(128_000, true, false, 600),
  'claude-opus-5': M(128_000, true, false, 600),
  'claude-opus-5-5': M(128_000, true, false, 600),
  'claude-fable-5': M(128_000, true, false, 600),
  'claude-fable-5-1': M(128_000, true, false, 600),
  'claude-fable-5-2': M(128_000, true, false, 600),
  'claude-mythos-5': M(128_000, true, false, 600),
  'claude-mythos-5-1': M(128_000, true, false, 600),
  'claude-mythos-5-2': M(128_000, true, false, 600),
  'claude-mythos-preview': M(128_000, false, false, 600),
  'claude-opus-4-7': M(128_000, false, false, 600),
  'claude-opus-4-6': M(128_000, false, false, 600),
  'claude-sonnet-5': M(128_000, false, false, 600),
  'claude-sonnet-5-5': M(128_000, false, false, 600),
  'claude-sonnet-4-6': M(128_000, false, false, 600),
  'claude-haiku-5-5': M(128_000, false, false, 600),
  'claude-sonnet-4-5': M(64_000, false, true, 100),
  'claude-opus-4-5': M(64_000, false, true, 100),
  'claude-haiku-4-5': M(64_000, false, true, 100),
};

/** §11, §11b: which models take adaptive thinking, `xhigh` effort, `disabled`, and the old `enabled`. */
const NO_ADAPTIVE = new Set(['claude-sonnet-4-5', 'claude-opus-4-5', 'claude-haiku-4-5']);
const NO_EFFORT = new Set(['claude-haiku-4-5']);
const XHIGH = /^claude-(fable-5|mythos-5|opus-5|opus-4-8|opus-4-7|sonnet-5)(-\d+)?$/;
const NO_DISABLED = /^claude-(fable-5|mythos-5|mythos-preview)/;
const NO_ENABLED = /^claude-(opus-4-[78]|opus-5|sonnet-5|fable|mythos|haiku-5)/;
const EFFORTS = new Set(['low', 'medium', 'high', 'xhigh', 'max']);

function validateThinking(modelId: string, thinking: unknown, outputConfig: unknown): ApiRuleError | undefined {
  if (thinking !== undefined) {
    const type = (thinking as { type?: unknown } | null)?.type;
    if (type === 'adaptive' && NO_ADAPTIVE.has(modelId)) return bad('adaptive thinking is not supported on this model');
    if (type === 'enabled' && NO_ENABLED.test(modelId)) {
      return bad('"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.');
    }
    if (type === 'disabled' && NO_DISABLED.test(modelId)) return bad('"thinking.type.disabled" is not supported for this model.');
    if (!['adaptive', 'enabled', 'disabled'].includes(String(type))) return bad("thinking.type: Input should be 'adaptive', 'enabled' or 'disabled'");
  }
  const effort = (outputConfig as { effort?: unknown } | undefined)?.effort;
  if (effort !== undefined) {
    if (!EFFORTS.has(String(effort))) return bad("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'");
    if (NO_EFFORT.has(modelId)) return bad('output_config.effort: effort is not supported on this model');
    if (effort === 'xhigh' && !XHIGH.test(modelId)) return bad('output_config.effort: "xhigh" is not supported on this model');
  }
  return undefined;
}

const TOP_LEVEL = new Set([
  'model', 'max_tokens', 'messages', 'system', 'metadata', 'stop_sequences', 'stream', 'tools', 'tool_choice', 'thinking',
  'output_config', 'cache_control', 'container', 'inference_geo', 'service_tier', 'speed', 'diagnostics',
]);
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const MAX_BASE64 = 10 * 1024 * 1024;

export interface ValidateOptions {
  /** Decides whether a `url` image source can be downloaded (Discord signed-URL expiry and so on). */
  readonly canDownload?: (url: string) => boolean;
  readonly firstMessageMustBeUser?: boolean;
  readonly allowConsecutiveSystemMessages?: boolean;
  readonly apiVersion?: string;
  /** Pixel size of an image source when the test knows it (the real API decodes the image). */
  readonly imageSize?: (source: Record<string, unknown>) => { width: number; height: number } | undefined;
  /**
   * The bytes behind a document source (§13): base64 is decoded here; `url` and `file` sources
   * need the server (it downloads URLs and keeps uploads). Undefined: unknown, not checked.
   */
  readonly documentBytes?: (source: Record<string, unknown>) => Buffer | undefined;
  /** The server tool blocks the fake produced: sent back, they must be unchanged. Unknown: not checked. */
  readonly emitted?: EmittedRegistry;
  /** False: this endpoint has no server tools (a proxy or platform without them); any is a 400. */
  readonly serverTools?: boolean;
}

/** §13: a PDF's page objects (the fake reads the uncompressed PDFs tests make). */
export function pdfPageCount(bytes: Buffer): number {
  return bytes.toString('latin1').match(/\/Type\s*\/Page(?![A-Za-z])/g)?.length ?? 1;
}

const isPdfBytes = (bytes: Buffer) => bytes.subarray(0, 1024).toString('latin1').includes('%PDF-');

const bad = (message: string): ApiRuleError => ({ status: 400, type: 'invalid_request_error', message });

export function modelFor(id: string): FakeModel | undefined {
  return FAKE_MODELS[id.replace(/-\d{8}$/, '')];
}

type Block = Record<string, unknown>;

function blocksOf(content: unknown): Block[] | undefined {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (Array.isArray(content)) return content as Block[];
  return undefined;
}

/** Returns the first rule the body breaks, or undefined when the API would accept it. */
export function validateRequest(body: Record<string, unknown>, options: ValidateOptions = {}): ApiRuleError | undefined {
  for (const field of ['model', 'max_tokens', 'messages']) {
    if (body[field] === undefined) return bad(`${field}: Field required`);
  }
  const version = options.apiVersion ?? '2026-10-21';
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL.has(key)) {
      if (version === '2023-06-01' && ['temperature', 'top_p', 'top_k'].includes(key)) continue;
      return bad(`${key}: Extra inputs are not permitted`);
    }
  }
  const modelId = String(body.model);
  const model = modelFor(modelId);
  if (model === undefined) return { status: 404, type: 'not_found_error', message: `model: ${modelId}` };
  const maxTokens = body.max_tokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0) return bad('max_tokens: Input should be a valid integer');
  if (maxTokens > model.maxOutput) {
    return bad(`max_tokens: ${maxTokens} > ${model.maxOutput}, which is the maximum allowed number of output tokens for ${modelId}`);
  }
  const thinkingError = validateThinking(modelId, body.thinking, body.output_config);
  if (thinkingError !== undefined) return thinkingError;
  if (body.system !== undefined) {
    const system = blocksOf(body.system);
    if (system === undefined || system.some((block) => block.type !== 'text')) return bad('system: Input should be a valid string or list of text blocks');
  }

  const toolError = validateTools(body.tools, modelId, options.serverTools ?? true);
  if (toolError !== undefined) return toolError;
  const tools = toolNames(body.tools);

  const messages = body.messages;
  if (!Array.isArray(messages)) return bad('messages: Input should be a valid list');
  if (messages.length === 0) return bad('messages: at least one message is required');
  if (messages.length > 100_000) return bad('messages: too many messages');

  let cacheBreakpoints = body.cache_control !== undefined && body.cache_control !== null ? 1 : 0;
  for (const block of blocksOf(body.system) ?? []) if (block.cache_control) cacheBreakpoints += 1;
  for (const tool of Array.isArray(body.tools) ? (body.tools as Block[]) : []) if (tool.cache_control) cacheBreakpoints += 1;

  let images = 0;
  let largestSide = 0;
  let pdfPages = 0;
  const roles = messages.map((message: { role?: unknown }) => message.role);
  for (let index = 0; index < messages.length; index += 1) {
    const message = messages[index] as { role?: unknown; content?: unknown };
    const role = message.role;
    if (role !== 'user' && role !== 'assistant' && role !== 'system') return bad(`messages.${index}.role: Input should be 'user', 'assistant' or 'system'`);
    if (role === 'system') {
      if (!model.systemMessages) return bad(`messages.${index}.role: 'system' is not supported on this model; use the top-level 'system' parameter`);
      if (index === 0) return bad(`messages.0: use the top-level 'system' parameter for the initial system prompt`);
      const before = roles[index - 1];
      const previousUser = before === 'user' || (before === 'system' && options.allowConsecutiveSystemMessages !== false && precededByUser(roles, index));
      if (!previousUser) return bad(`messages.${index}: a system message must immediately follow a user turn`);
      if (before === 'system' && options.allowConsecutiveSystemMessages === false) return bad(`messages.${index}: consecutive system messages are not allowed`);
      const after = roles[index + 1];
      if (after !== undefined && after !== 'assistant' && !(after === 'system' && options.allowConsecutiveSystemMessages !== false)) {
        return bad(`messages.${index}: a system message must be the last message or be followed by an assistant turn`);
      }
    }
    if (index === 0 && role !== 'user' && options.firstMessageMustBeUser !== false) return bad('messages: first message must use the "user" role');
    const blocks = blocksOf(message.content);
    if (blocks === undefined) return bad(`messages.${index}.content: Input should be a valid string or list`);
    const isFinalAssistant = index === messages.length - 1 && role === 'assistant';
    if (blocks.length === 0 && !isFinalAssistant) {
      return bad(`messages.${index}: all messages must have non-empty content except for the optional final assistant message`);
    }
    const toolBlocksError = validateToolBlocks(String(role), blocks, index, tools, options.emitted);
    if (toolBlocksError !== undefined) return toolBlocksError;
    for (let b = 0; b < blocks.length; b += 1) {
      const block = blocks[b] as Block;
      if (block.cache_control) {
        cacheBreakpoints += 1;
        if (block.type === 'text' && String(block.text ?? '') === '') return bad('messages: cache_control cannot be set on empty text blocks');
      }
      if (block.type === 'text') {
        const text = block.text;
        if (typeof text !== 'string' || text === '') return bad('messages: text content blocks must be non-empty');
        if (text.trim() === '') return bad('messages: text content blocks must contain non-whitespace text');
        if (role === 'user' && Array.isArray(block.citations) && block.citations.length > 0) return bad(`messages.${index}.content.${b}: citations are not allowed in user messages`);
      } else if (block.type === 'image') {
        if (role !== 'user') return bad(`messages.${index}.content.${b}: image blocks are only allowed in user messages`);
        images += 1;
        const error = validateImage(block, `messages.${index}.content.${b}.image`, options);
        if (error !== undefined) return error;
        const size = options.imageSize?.(block.source as Record<string, unknown>);
        if (size !== undefined) {
          if (Math.max(size.width, size.height) > 8000) return bad(`${'messages'}.${index}.content.${b}.image: image dimensions exceed max allowed size: 8000 pixels`);
          largestSide = Math.max(largestSide, size.width, size.height);
        }
      } else if (block.type === 'document' && role === 'assistant') {
        return bad(`messages.${index}.content.${b}: document blocks are not allowed in assistant messages`);
      } else if (block.type === 'document') {
        const checked = validateDocument(block, `messages.${index}.content.${b}.document`, options);
        if ('status' in checked) return checked;
        pdfPages += checked.pages;
      } else if (!['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'].includes(String(block.type)) && !SERVER_TOOL_BLOCKS.has(String(block.type))) {
        return bad(`messages.${index}.content.${b}.type: unknown block type ${String(block.type)}`);
      }
    }
    if (isFinalAssistant && !continuesPausedTurn(blocks)) {
      if (!model.prefill) return bad('This model does not support assistant message prefill. The conversation must end with a user message.');
      const last = blocks[blocks.length - 1];
      if (last?.type === 'text' && /\s$/.test(String(last.text))) return bad('messages: final assistant content cannot end with trailing whitespace');
    }
  }
  if (cacheBreakpoints > 4) return bad(`A maximum of 4 blocks with cache_control may be provided. Found ${cacheBreakpoints}.`);
  if (images > model.maxImages) return bad(`messages: too many images in one request (${images} > ${model.maxImages})`);
  if (images > 20 && largestSide > 2000) return bad('messages: image dimensions exceed max allowed size for many-image requests: 2000 pixels');
  const maxPages = model.contextWindow >= 1_000_000 ? 600 : 100;
  if (pdfPages > maxPages) return bad(`messages: A maximum of ${maxPages} PDF pages may be provided. Found ${pdfPages}.`);
  return undefined;
}

function precededByUser(roles: readonly unknown[], index: number): boolean {
  let i = index - 1;
  while (i >= 0 && roles[i] === 'system') i -= 1;
  return roles[i] === 'user';
}

function validateImage(block: Block, path: string, options: ValidateOptions): ApiRuleError | undefined {
  const source = block.source as Record<string, unknown> | undefined;
  if (source === undefined) return bad(`${path}.source: Field required`);
  if (source.type === 'base64') {
    const mediaType = String(source.media_type);
    if (!IMAGE_TYPES.has(mediaType)) return bad(`${path}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
    const data = String(source.data ?? '');
    if (data.length > MAX_BASE64) return bad(`${path}.source.base64: image exceeds 10 MB maximum: ${data.length} bytes > ${MAX_BASE64} bytes`);
    const actual = sniff(Buffer.from(data, 'base64'));
    if (actual === undefined) return bad('Could not process image');
    if (actual !== mediaType) return bad(`${path}.source.base64.data: Image does not match the provided media type ${mediaType}`);
    return undefined;
  }
  if (source.type === 'url') {
    const url = String(source.url ?? '');
    if (!/^https?:\/\//.test(url)) return bad(`${path}.source.url: Input should be a valid URL`);
    const downloadable = options.canDownload?.(url) ?? true;
    if (!downloadable) return bad(`${path}.source.url: Unable to download the file. Please verify the URL and try again.`);
    return undefined;
  }
  if (source.type === 'file') {
    if (typeof source.file_id !== 'string' || source.file_id === '') return bad(`${path}.source.file_id: Field required`);
    return undefined;
  }
  return bad(`${path}.source.type: Input tag '${String(source.type)}' is not one of 'base64', 'url', 'file'`);
}

function validateDocument(block: Block, path: string, options: ValidateOptions): ApiRuleError | { pages: number } {
  const source = block.source as Record<string, unknown> | undefined;
  if (source === undefined) return bad(`${path}.source: Field required`);
  if (source.type === 'text' || source.type === 'content') return { pages: 0 };
  let bytes: Buffer | undefined;
  if (source.type === 'base64') {
    if (source.media_type !== 'application/pdf') return bad(`${path}.source.base64.media_type: Input should be 'application/pdf'`);
    bytes = Buffer.from(String(source.data ?? ''), 'base64');
  } else if (source.type === 'url') {
    const url = String(source.url ?? '');
    if (!/^https?:\/\//.test(url)) return bad(`${path}.source.url: Input should be a valid URL`);
    if (!(options.canDownload?.(url) ?? true)) return bad(`${path}.source.url: Unable to download the file. Please verify the URL and try again.`);
    bytes = options.documentBytes?.(source);
  } else if (source.type === 'file') {
    if (typeof source.file_id !== 'string' || source.file_id === '') return bad(`${path}.source.file_id: Field required`);
    bytes = options.documentBytes?.(source);
  } else {
    return bad(`${path}.source.type: Input tag '${String(source.type)}' is not one of 'base64', 'url', 'file', 'text', 'content'`);
  }
  if (bytes === undefined) return { pages: 1 };
  if (!isPdfBytes(bytes)) return bad(`${path}.source: The PDF specified was not valid.`);
  return { pages: pdfPageCount(bytes) };
}

export function sniff(bytes: Buffer): string | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (bytes.length >= 12 && bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return undefined;
}

/** Discord CDN signed URL check: `ex` (hex unix seconds) in the future and a signature present. */
export function discordUrlDownloadable(url: string, nowMs: number): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (!parsed.pathname.includes('/attachments/')) return true;
  const ex = parsed.searchParams.get('ex');
  if (ex === null || parsed.searchParams.get('hm') === null) return false;
  return Number.parseInt(ex, 16) * 1000 > nowMs;
}
