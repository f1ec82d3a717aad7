import { describe, expect, it } from 'vitest';
import { withWebSources } from '../../src/adapters/web/outbound.js';

describe('the playground source list', () => {
  it.each([
    { name: 'no sources: the text unchanged', text: 'Answer.', sources: [], expected: 'Answer.' },
    {
      name: 'numbered Markdown links after the answer',
      text: 'Answer.\n',
      sources: [
        { url: 'https://a.example/x', title: 'A' },
        { url: 'https://b.example/y', title: 'B' },
      ],
      expected: 'Answer.\n\nSources:\n1. [A](https://a.example/x)\n2. [B](https://b.example/y)',
    },
    {
      name: 'parentheses and spaces in a URL cannot end the link early',
      text: 'Answer.',
      sources: [{ url: 'https://w.example/wiki/Foo_(bar) baz', title: 'Foo' }],
      expected: 'Answer.\n\nSources:\n1. [Foo](https://w.example/wiki/Foo_%28bar%29%20baz)',
    },
  ])('$name', ({ text, sources, expected }) => {
    expect(withWebSources(text, sources)).toBe(expected);
  });
});
