/** The bench's web-tools cache figure as a check: tools on over many turns keep the prompt cache. */
import { describe, expect, it } from 'vitest';
import { cachedShare } from '../bench/core-bench.js';

describe('prompt cache with web tools on', () => {
  it('keeps at least 85 % of input tokens cached over 20 turns with links read along the way, as much as without tools', { timeout: 60_000 }, async () => {
    const withTools = await cachedShare(20, 0, { webTools: true });
    const without = await cachedShare(20, 0, { webTools: false });
    expect(withTools.cachedShare).toBeGreaterThanOrEqual(0.85);
    expect(withTools.cachedShare).toBeGreaterThanOrEqual(without.cachedShare - 0.01);
  });
});
