import { describe, expect, it } from 'vitest';
import { codePointLength, hasBalancedFences, splitMessage } from '../../src/core/text/split.js';

/** Removes the fence lines the splitter adds and all whitespace, for comparing content. */
function content(parts: readonly string[]): string {
  const joined = parts
    .map((part, i) => {
      let p = part;
      if (i > 0 && /^```[^\n]*\n/.test(p) && !hasBalancedFences(parts.slice(0, i).join('\n'))) p = p.replace(/^```[^\n]*\n/, '');
      return p;
    })
    .join('\n');
  return joined.replace(/```[^\n]*\n?/g, '').replace(/\s+/g, '');
}

function random(seed: number) {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

const WORDS = ['alpha', 'beta', 'gamma', 'déjà', '🙂', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'x'.repeat(120), 'const value = compute(a, b);', '    indented();', '-', '**bold**'];

function randomText(next: () => number): string {
  const lines: string[] = [];
  const count = 5 + Math.floor(next() * 120);
  for (let i = 0; i < count; i += 1) {
    const roll = next();
    if (roll < 0.08) {
      lines.push(`\`\`\`${['ts', 'python', ''][Math.floor(next() * 3)]}`);
      const body = 1 + Math.floor(next() * 40);
      for (let j = 0; j < body; j += 1) lines.push(`  ${WORDS[Math.floor(next() * WORDS.length)]} line ${j}`);
      lines.push('```');
    } else if (roll < 0.2) {
      lines.push('');
    } else {
      const words = 1 + Math.floor(next() * 30);
      lines.push(Array.from({ length: words }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '));
    }
  }
  return lines.join('\n');
}

describe('splitMessage', () => {
  it.each([
    ['short text stays whole', 'hello', 2000, ['hello']],
    ['splits at a paragraph first', `${'a'.repeat(30)}\n\n${'b'.repeat(30)}`, 40, ['a'.repeat(30), 'b'.repeat(30)]],
    ['then at a line', `${'a '.repeat(15)}\n${'b '.repeat(15)}`, 40, ['a '.repeat(15).trim(), 'b '.repeat(15).trim()]],
    ['then at a word', `${'word '.repeat(12)}`, 30, ['word word word word word', 'word word word word word', 'word word']],
  ])('%s', (_name, text, limit, expected) => {
    expect(splitMessage(text, limit)).toEqual(expected);
  });

  it('hard-splits a long word without breaking surrogate pairs', () => {
    const text = '🙂'.repeat(50);
    const parts = splitMessage(text, 20);
    for (const part of parts) {
      expect(codePointLength(part)).toBeLessThanOrEqual(20);
      expect(part).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }
    expect(parts.join('')).toBe(text);
  });

  it('closes and reopens a code fence with its language across a split', () => {
    const code = Array.from({ length: 120 }, (_, i) => `print("line ${i} of the python block")`).join('\n');
    const text = `${'Intro paragraph. '.repeat(60)}\n\n\`\`\`python\n${code}\n\`\`\`\n\nOutro.`;
    expect(text.length).toBeGreaterThan(5000);
    const parts = splitMessage(text, 2000);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) {
      expect(codePointLength(part)).toBeLessThanOrEqual(2000);
      expect(hasBalancedFences(part)).toBe(true);
    }
    // The intro ends at a paragraph break; every later part is (or continues) the python block.
    expect(parts[0]).toMatch(/^Intro/);
    for (const part of parts.slice(1)) expect(part.startsWith('```python\n')).toBe(true);
    expect(parts.at(-1)).toMatch(/```\n\nOutro\.$/);
    expect(content(parts)).toBe(content([text]));
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('property: random text #%i', (seed) => {
    const next = random(seed);
    const text = randomText(next);
    const limit = [60, 200, 2000, 4000][seed % 4] as number;
    const parts = splitMessage(text, limit);
    for (const part of parts) {
      expect(codePointLength(part), part).toBeLessThanOrEqual(limit);
      expect(part.trim()).not.toBe('');
      expect(hasBalancedFences(part), part).toBe(true);
    }
    expect(content(parts)).toBe(content([text]));
  });
});
