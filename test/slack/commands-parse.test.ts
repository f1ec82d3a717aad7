import { describe, expect, it } from 'vitest';
import { parseInstructionsText, parseThreadLink } from '../../src/adapters/slack/commands.js';

describe('parsing /instructions text', () => {
  it.each([
    ['set Be brief.', { kind: 'command', action: 'set', scope: 'workspace', text: 'Be brief.' }],
    ['set --channel Only French here', { kind: 'command', action: 'set', scope: 'channel', text: 'Only French here' }],
    ['SET   multi\nline', { kind: 'command', action: 'set', scope: 'workspace', text: 'multi\nline' }],
    ['show', { kind: 'command', action: 'show', scope: 'workspace', text: '' }],
    ['clear --channel', { kind: 'command', action: 'clear', scope: 'channel', text: '' }],
    ['history', { kind: 'command', action: 'history', scope: 'workspace', text: '' }],
    ['', { kind: 'usage' }],
    ['delete everything', { kind: 'usage' }],
    ['--channel set x', { kind: 'usage' }],
  ])('%j', (raw, expected) => {
    expect(parseInstructionsText(raw)).toEqual(expected);
  });
});

describe('parsing thread links for /forget', () => {
  it.each([
    ['https://acme.slack.com/archives/C0123ABC/p1700000000123456', { channel: 'C0123ABC', threadTs: '1700000000.123456' }],
    ['<https://acme.slack.com/archives/C0123ABC/p1700000000999999?thread_ts=1700000000.123456&cid=C0123ABC>', { channel: 'C0123ABC', threadTs: '1700000000.123456' }],
    ['not a link', undefined],
  ])('%s', (raw, expected) => {
    expect(parseThreadLink(raw)).toEqual(expected);
  });
});
