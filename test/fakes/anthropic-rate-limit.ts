/**
 * The account's rate limit as the fake Messages API applies it (anthropic-api-rules.md §15):
 * every admitted request is answered with `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`
 * (reset in RFC 3339, token counts rounded down to thousands), and one over the limit gets a 429
 * with `retry-after` in whole seconds. Two kinds of limit, either or both:
 * - `maxConcurrent`: requests being answered at once (the "requests" headers count those);
 * - `tokensPerMinute`: input tokens charged on admission and output tokens when the answer ends,
 *   over a sliding minute.
 */
export interface AccountLimits {
  readonly maxConcurrent?: number;
  readonly tokensPerMinute?: number;
}

export type Admission =
  | { readonly ok: true; readonly headers: Record<string, string> }
  | { readonly ok: false; readonly headers: Record<string, string>; readonly message: string };

const MINUTE_MS = 60_000;

export class AccountRateLimit {
  private active = 0;
  private readonly spent: Array<{ at: number; tokens: number }> = [];

  constructor(private readonly limits: AccountLimits) {}

  /** Takes a request in, or says why not. Each admitted request must be `finish`ed once. */
  admit(inputTokens: number, now = Date.now()): Admission {
    this.expire(now);
    const { maxConcurrent, tokensPerMinute } = this.limits;
    if (maxConcurrent !== undefined && this.active >= maxConcurrent) {
      return { ok: false, headers: { 'retry-after': '1', ...this.headers(now) }, message: `Number of concurrent requests has exceeded your rate limit of ${maxConcurrent}.` };
    }
    if (tokensPerMinute !== undefined && this.used() + inputTokens > tokensPerMinute) {
      const waitMs = this.msUntilFree(inputTokens, now);
      return {
        ok: false,
        headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))), ...this.headers(now) },
        message: `This request would exceed your organization's rate limit of ${tokensPerMinute} tokens per minute.`,
      };
    }
    this.active += 1;
    this.spent.push({ at: now, tokens: inputTokens });
    return { ok: true, headers: this.headers(now) };
  }

  finish(outputTokens: number, now = Date.now()): void {
    this.active = Math.max(0, this.active - 1);
    if (outputTokens > 0) this.spent.push({ at: now, tokens: outputTokens });
  }

  private headers(now: number): Record<string, string> {
    const headers: Record<string, string> = {};
    const { maxConcurrent, tokensPerMinute } = this.limits;
    if (maxConcurrent !== undefined) {
      headers['anthropic-ratelimit-requests-limit'] = String(maxConcurrent);
      headers['anthropic-ratelimit-requests-remaining'] = String(Math.max(0, maxConcurrent - this.active));
      headers['anthropic-ratelimit-requests-reset'] = new Date(now + 1000).toISOString();
    }
    if (tokensPerMinute !== undefined) {
      headers['anthropic-ratelimit-tokens-limit'] = String(tokensPerMinute);
      headers['anthropic-ratelimit-tokens-remaining'] = String(Math.floor(Math.max(0, tokensPerMinute - this.used()) / 1000) * 1000);
      headers['anthropic-ratelimit-tokens-reset'] = new Date((this.spent[0]?.at ?? now) + MINUTE_MS).toISOString();
    }
    return headers;
  }

  private used(): number {
    return this.spent.reduce((sum, entry) => sum + entry.tokens, 0);
  }

  private expire(now: number): void {
    while (this.spent.length > 0 && now - (this.spent[0] as { at: number }).at >= MINUTE_MS) this.spent.shift();
  }

  private msUntilFree(tokens: number, now: number): number {
    let used = this.used();
    for (const entry of this.spent) {
      used -= entry.tokens;
      if (used + tokens <= (this.limits.tokensPerMinute ?? Number.POSITIVE_INFINITY)) return entry.at + MINUTE_MS - now;
    }
    return MINUTE_MS;
  }
}
