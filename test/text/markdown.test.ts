import { describe, expect, it } from 'vitest';
import { toDiscordMarkdown } from '../../src/adapters/discord/markdown.js';
import { neutralizeSlackPings, toSlackMrkdwn } from '../../src/adapters/slack/markdown.js';

describe('toSlackMrkdwn', () => {
  it.each([
    ['**bold** and __also__', '*bold* and *also*'],
    ['*italic* and _italic_', '_italic_ and _italic_'],
    ['~~gone~~', '~gone~'],
    ['see [the docs](https://example.com/a?b=1&c=2)', 'see <https://example.com/a?b=1&c=2|the docs>'],
    ['# Title\n## Sub', '*Title*\n*Sub*'],
    ['- one\n* two\n  - nested', '• one\n• two\n  • nested'],
    ['1. first\n2. second', '1. first\n2. second'],
    ['a < b && c > d', 'a &lt; b &amp;&amp; c &gt; d'],
    ['`x <b> **y**`', '`x <b> **y**`'],
    ['```ts\nconst a = b && c;\n```', '```\nconst a = b && c;\n```'],
    ['hi <!channel> and @here', 'hi @\u200Bchannel and @\u200Bhere'],
  ])('%j', (input, expected) => {
    expect(toSlackMrkdwn(input)).toBe(expected);
  });

  it.each([
    ['<!here>', '@\u200Bhere'],
    ['<!everyone|everyone>', '@\u200Beveryone'],
    ['<!subteam^S123|@devs>', '@\u200B@devs'],
    ['mail me@here.com', 'mail me@here.com'],
    ['@channel', '@\u200Bchannel'],
  ])('neutralizes %j', (input, expected) => {
    expect(neutralizeSlackPings(input)).toBe(expected);
  });
});

describe('toDiscordMarkdown', () => {
  it.each([
    ['plain **bold** text', 'plain **bold** text'],
    ['#### Deep heading', '**Deep heading**'],
    ['### Kept', '### Kept'],
    ['| a | bb |\n|---|---|\n| 1 | 2 |', '```\na | bb\n--|---\n1 | 2\n```'],
    ['```\n| not | a table |\n|---|---|\n```', '```\n| not | a table |\n|---|---|\n```'],
    ['ping @everyone now', 'ping @\u200Beveryone now'],
  ])('%j', (input, expected) => {
    expect(toDiscordMarkdown(input)).toBe(expected);
  });
});
