import { describe, expect, it } from 'vitest';
import { inboundText, participantId } from '../../src/adapters/web/inbound.js';

describe('playground input', () => {
  it.each([
    // text, starts a thread → text for the model, addresses the bot
    ['What is a thread?', true, 'What is a thread?', true],
    ['just chatting', false, 'just chatting', false],
    ['@threadline what now?', false, 'what now?', true],
    ['Bob here. @threadline can you summarise?', false, 'Bob here. can you summarise?', true],
    ['@Threadline, hi', false, 'hi', true],
    ['mail me at bob@threadline.dev', false, 'mail me at bob@threadline.dev', false],
    ['@threadlines are not me', false, '@threadlines are not me', false],
  ])('%j (starts thread: %s) → %j, mention %s', (raw, startsThread, text, mentionsBot) => {
    expect(inboundText(raw, startsThread)).toEqual({ text, mentionsBot });
  });

  it('gives one id per name whatever the case', () => {
    expect(participantId(' Ann ')).toBe('web:ann');
    expect(participantId('ANN')).toBe(participantId('ann'));
  });
});
