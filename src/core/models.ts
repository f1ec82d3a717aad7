/**
 * What each model accepts. The request builder asks this table instead of hard-coding model
 * names, and an id it does not know gets the most conservative answer to every question, so a
 * new model never turns into a stream of 400s. Source: ../shared/reference/anthropic-api-rules.md.
 */

export interface ModelRules {
  /** The id as configured. */
  readonly id: string;
  /** Whether the id matched a known family; unknown ids get `CONSERVATIVE`. */
  readonly known: boolean;
  /**
   * `temperature`, `top_p`, `top_k`: API version 2026-10-21 (what SDK 1.x sends) removed them from
   * every model, so this is `false` everywhere; it is a field so the rule is visible and tested.
   */
  readonly acceptsSamplingParams: false;
  /** Assistant prefill is unsupported on 4.6+ and never needed by a chat bot: never used. */
  readonly usePrefill: false;
  /** `role: "system"` entries inside `messages` (§6). */
  readonly midConversationSystem: boolean;
  readonly maxOutputTokens: number;
  readonly contextWindowTokens: number;
  /** Images per request (§7). */
  readonly maxImages: number;
  /** Prefixes shorter than this are silently not cached (§10). */
  readonly minCacheableTokens: number;
  /** `thinking: {type: "adaptive"}` with `output_config.effort` is accepted (§11b; rejected on 4.5 and earlier). */
  readonly adaptiveThinking: boolean;
  /** The `xhigh` effort level exists (§11b). */
  readonly xhighEffort: boolean;
}

/** Limits that hold for every model on the Claude API (§7). */
export const IMAGE_LIMITS = {
  maxBase64Bytes: 10 * 1024 * 1024,
  /**
   * Inline (base64) image data per request, all images together: a request is limited to 32 MB
   * (§1, 413 beyond), and the text of a thread at a 1M-token budget can take several of them.
   */
  maxInlineBytesPerRequest: 24 * 1024 * 1024,
  maxSidePx: 8000,
  manyImagesThreshold: 20,
  manyImagesMaxSidePx: 2000,
  supportedMediaTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as readonly string[],
} as const;

interface FamilyRow {
  readonly family: string;
  /** Version as written in the id: `4-8`, `5`, `preview`. */
  readonly versions: readonly string[];
  readonly midConversationSystem: boolean;
  readonly maxOutputTokens: number;
  readonly contextWindowTokens: number;
  readonly maxImages: number;
  readonly minCacheableTokens: number;
  readonly adaptiveThinking: boolean;
  readonly xhighEffort: boolean;
}

const K200 = 200_000;
const M1 = 1_000_000;

const TABLE: readonly FamilyRow[] = [
  // Mid-conversation system messages: Opus 4.8, Opus 5 and the Fable/Mythos 5 lines (and the successors named in §6).
  { family: 'opus', versions: ['4-8'], midConversationSystem: true, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 1024, adaptiveThinking: true, xhighEffort: true },
  { family: 'opus', versions: ['5', '5-5'], midConversationSystem: true, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 512, adaptiveThinking: true, xhighEffort: true },
  { family: 'fable', versions: ['5', '5-1', '5-2'], midConversationSystem: true, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 512, adaptiveThinking: true, xhighEffort: true },
  { family: 'mythos', versions: ['5', '5-1', '5-2'], midConversationSystem: true, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 512, adaptiveThinking: true, xhighEffort: true },
  { family: 'mythos', versions: ['preview'], midConversationSystem: false, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 2048, adaptiveThinking: true, xhighEffort: false },
  { family: 'opus', versions: ['4-7'], midConversationSystem: false, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 2048, adaptiveThinking: true, xhighEffort: true },
  { family: 'opus', versions: ['4-6'], midConversationSystem: false, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 4096, adaptiveThinking: true, xhighEffort: false },
  { family: 'sonnet', versions: ['5', '5-5'], midConversationSystem: false, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 1024, adaptiveThinking: true, xhighEffort: true },
  { family: 'sonnet', versions: ['4-6'], midConversationSystem: false, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 1024, adaptiveThinking: true, xhighEffort: false },
  { family: 'haiku', versions: ['5-5'], midConversationSystem: false, maxOutputTokens: 128_000, contextWindowTokens: M1, maxImages: 600, minCacheableTokens: 4096, adaptiveThinking: true, xhighEffort: false },
  // The 200k-context generation: 64k output, 100 images.
  { family: 'sonnet', versions: ['4-5'], midConversationSystem: false, maxOutputTokens: 64_000, contextWindowTokens: K200, maxImages: 100, minCacheableTokens: 1024, adaptiveThinking: false, xhighEffort: false },
  { family: 'opus', versions: ['4-5'], midConversationSystem: false, maxOutputTokens: 64_000, contextWindowTokens: K200, maxImages: 100, minCacheableTokens: 4096, adaptiveThinking: false, xhighEffort: false },
  { family: 'haiku', versions: ['4-5'], midConversationSystem: false, maxOutputTokens: 64_000, contextWindowTokens: K200, maxImages: 100, minCacheableTokens: 4096, adaptiveThinking: false, xhighEffort: false },
];

/** The smallest of every limit in the table, and no optional feature. */
const CONSERVATIVE: Omit<ModelRules, 'id'> = {
  known: false,
  acceptsSamplingParams: false,
  usePrefill: false,
  midConversationSystem: false,
  maxOutputTokens: 64_000,
  contextWindowTokens: K200,
  maxImages: 100,
  minCacheableTokens: 4096,
  adaptiveThinking: false,
  xhighEffort: false,
};

// claude-<family>-<version>[-<yyyymmdd>], e.g. claude-opus-4-8, claude-sonnet-4-5-20250929, claude-mythos-preview
const MODEL_ID = /^claude-([a-z]+)-(\d{1,2}(?:-\d{1,2})?|preview)(?:-(\d{8}))?$/;

/**
 * One object per id: the request builder extends a conversation's last request only while the
 * rules are the same object, and every reply now looks its model's rules up anew.
 */
const rulesById = new Map<string, ModelRules>();

export function modelRules(id: string): ModelRules {
  let rules = rulesById.get(id);
  if (rules === undefined) {
    rules = Object.freeze(rulesOf(id));
    // Ids come from the environment and from /settings (checked against the API's list): few.
    if (rulesById.size < 1000) rulesById.set(id, rules);
  }
  return rules;
}

function rulesOf(id: string): ModelRules {
  const match = MODEL_ID.exec(id.trim().toLowerCase());
  const row =
    match === null ? undefined : TABLE.find((entry) => entry.family === match[1] && entry.versions.includes(match[2] as string));
  if (row === undefined) return { id, ...CONSERVATIVE };
  return {
    id,
    known: true,
    acceptsSamplingParams: false,
    usePrefill: false,
    midConversationSystem: row.midConversationSystem,
    maxOutputTokens: row.maxOutputTokens,
    contextWindowTokens: row.contextWindowTokens,
    // Issue 7 caps every request at 100 images whatever the model allows.
    maxImages: Math.min(row.maxImages, 100),
    minCacheableTokens: row.minCacheableTokens,
    adaptiveThinking: row.adaptiveThinking,
    xhighEffort: row.xhighEffort,
  };
}

/** Every id the table knows, for table-driven tests over "every model". */
export function knownModelIds(): string[] {
  return TABLE.flatMap((row) => row.versions.map((version) => `claude-${row.family}-${version}`));
}
