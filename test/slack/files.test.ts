import { describe, expect, it } from 'vitest';
import { slackTokenHosts } from '../../src/adapters/slack/files.js';

describe('which hosts may see the Slack bot token', () => {
  const allowed = slackTokenHosts('http://127.0.0.1:4567/api/');
  it.each([
    ['files.slack.com', true],
    ['slack.com', true],
    ['a.slack-edge.com', true],
    ['127.0.0.1', true],
    ['evil.com', false],
    ['slack.com.evil.com', false],
    ['notslack.com', false],
    ['localhost', false],
  ])('%s → %s', (host, expected) => {
    expect(allowed(host)).toBe(expected);
  });
});
