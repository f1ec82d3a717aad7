import { describe, expect, it } from 'vitest';
import { knownModelIds, modelRules } from '../../src/core/models.js';

describe('modelRules', () => {
  it.each([
    // id, midConversationSystem, maxOutputTokens, maxImages, known
    ['claude-opus-4-8', true, 128_000, 100, true],
    ['claude-opus-4-8-20261001', true, 128_000, 100, true],
    ['claude-opus-5', true, 128_000, 100, true],
    ['claude-fable-5', true, 128_000, 100, true],
    ['claude-mythos-5', true, 128_000, 100, true],
    ['claude-fable-5-2', true, 128_000, 100, true],
    ['claude-opus-4-7', false, 128_000, 100, true],
    ['claude-sonnet-5', false, 128_000, 100, true],
    ['claude-sonnet-4-6', false, 128_000, 100, true],
    ['claude-mythos-preview', false, 128_000, 100, true],
    ['claude-sonnet-4-5-20250929', false, 64_000, 100, true],
    ['claude-haiku-4-5', false, 64_000, 100, true],
    ['claude-opus-9', false, 64_000, 100, false],
    ['gpt-4o', false, 64_000, 100, false],
    ['claude-3-5-haiku-20241022', false, 64_000, 100, false],
    ['', false, 64_000, 100, false],
  ] as const)('%s → system messages %s, max output %i, images %i, known %s', (id, system, maxOut, images, known) => {
    const rules = modelRules(id);
    expect(rules.midConversationSystem).toBe(system);
    expect(rules.maxOutputTokens).toBe(maxOut);
    expect(rules.maxImages).toBe(images);
    expect(rules.known).toBe(known);
    expect(rules.acceptsSamplingParams).toBe(false);
    expect(rules.usePrefill).toBe(false);
  });

  it('treats unknown ids at least as strictly as every known one', () => {
    const unknown = modelRules('claude-unknown-1');
    for (const id of knownModelIds()) {
      const known = modelRules(id);
      expect(unknown.maxOutputTokens).toBeLessThanOrEqual(known.maxOutputTokens);
      expect(unknown.contextWindowTokens).toBeLessThanOrEqual(known.contextWindowTokens);
      expect(unknown.maxImages).toBeLessThanOrEqual(known.maxImages);
      expect(unknown.minCacheableTokens).toBeGreaterThanOrEqual(known.minCacheableTokens);
    }
  });
});
