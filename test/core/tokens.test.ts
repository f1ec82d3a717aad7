import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/core/request/assemble.js';
import type { HistoryTurn } from '../../src/core/request/types.js';
import { modelRules } from '../../src/core/models.js';
import { estimateImageTokens, estimateTextTokens, prefixWithinTokens } from '../../src/core/tokens.js';

describe('token estimates', () => {
  it.each<[string, string, number]>([
    ['nothing', '', 0],
    ['English', 'hello world', 4],
    ['code', 'const x = f(y);', 5],
    ['Cyrillic: two characters a token', 'привет', 3],
    ['accented Latin in English', 'café', 2],
    ['CJK: a token a character', '你好世界', 4],
    ['Japanese kana', 'こんにちは', 5],
    ['an emoji: two UTF-16 units', '👍', 2],
    ['mixed', 'ok 👍 你好', 6],
  ])('%s', (_name, text, expected) => {
    expect(estimateTextTokens(text)).toBe(expected);
  });

  it.each<[string, string, number, number]>([
    ['ASCII', 'a'.repeat(100), 10, 35],
    ['CJK', '字'.repeat(100), 10, 10],
    ['more room than text', 'short', 100, 5],
    ['no room', 'anything', 0, 0],
    // Three units fit, but the third is the first half of an emoji: cut before it.
    ['never half an emoji', '👍👍', 3, 2],
  ])('a prefix of %s within the tokens', (_name, text, tokens, expected) => {
    const end = prefixWithinTokens(text, tokens);
    expect(end).toBe(expected);
    expect(estimateTextTokens(text.slice(0, end))).toBeLessThanOrEqual(tokens);
  });

  it.each<[number | null, number | null, number]>([
    [null, null, 1600],
    [280, 280, 100],
    [8000, 8000, 4784],
  ])('an image of %s × %s px', (width, height, expected) => {
    expect(estimateImageTokens({ width, height })).toBe(expected);
  });
});

describe('the context budget holds for scripts denser than English', () => {
  const u = (text: string): HistoryTurn => ({ role: 'user', authorId: 'a', authorName: 'A', text, images: [], notes: [] });
  const a = (text: string): HistoryTurn => ({ role: 'assistant', authorId: 'self', authorName: 'threadline', text, images: [], notes: [] });
  const build = (turns: HistoryTurn[], budgetTokens: number) =>
    assemble({ rules: modelRules('claude-sonnet-4-5'), maxTokens: 4096, system: 'You are threadline.', turns, budgetTokens });
  const sentText = (result: ReturnType<typeof build>) =>
    result.request.messages.flatMap((message) => message.content.flatMap((block) => (block.type === 'text' ? [block.text] : []))).join('');

  it('trims a Chinese thread so that its characters, about a token each, fit the budget', () => {
    const turns: HistoryTurn[] = [];
    for (let i = 0; i < 60; i += 1) turns.push(u(`第${i}个问题：${'这是一个很长的讨论内容。'.repeat(160)}`), a('好的。'));
    turns.push(u('最新的问题？'));
    const result = build(turns, 50_000);
    expect(result.omittedTurns).toBeGreaterThan(0);
    expect(sentText(result).length).toBeLessThanOrEqual(50_000);
    expect(sentText(result)).toContain('最新的问题？');
  });

  it('shortens one huge Chinese message to the budget', () => {
    const result = build([u('字'.repeat(200_000))], 10_000);
    const text = sentText(result);
    expect(text).toMatch(/message truncated/);
    expect(text.match(/字/g)?.length).toBeLessThanOrEqual(10_000);
    expect(result.estimatedInputTokens).toBeLessThanOrEqual(10_000);
  });
});
