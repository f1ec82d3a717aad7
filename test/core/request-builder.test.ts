import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/core/request/assemble.js';
import type { AssembleInput, HistoryTurn } from '../../src/core/request/types.js';
import { modelRules } from '../../src/core/models.js';
import { RequestBuilder } from '../../src/core/request/request-builder.js';
import { requestJson } from '../../src/core/request/request-json.js';

/** Deterministic pseudo-random numbers, so a failure can be replayed from its seed. */
function randomFrom(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const turn = (role: HistoryTurn['role'], author: string, text: string, extra: Partial<HistoryTurn> = {}): HistoryTurn => ({
  role,
  authorId: author,
  authorName: `Name ${author}`,
  text,
  images: [],
  notes: [],
  ...extra,
});

/**
 * A thread that lives the way real ones do: chatter, questions and answers appended; now and then
 * an edit, a deletion, an image, a PDF, a system message, a new author, an empty mention, a changed
 * prompt or budget. Yields what the core would hand the builder before each answer.
 */
function* conversation(seed: number, model: string, steps: number, fixedBudget?: number): Generator<AssembleInput> {
  const random = randomFrom(seed);
  const rules = modelRules(model);
  const chance = (p: number) => random() < p;
  const authors = ['alice', 'bob', 'carol'];
  let authorCount = 1;
  const turns: HistoryTurn[] = [];
  let system = 'You are threadline.';
  let budgetTokens = fixedBudget ?? 1_000_000;
  for (let step = 0; step < steps; step += 1) {
    const author = () => authors[Math.floor(random() * authorCount)] as string;
    if (chance(0.08)) authorCount = Math.min(authors.length, authorCount + 1);
    for (let chatter = Math.floor(random() * 3); chatter > 0; chatter -= 1) {
      turns.push(turn('user', author(), chance(0.1) ? '  ' : `chatter ${step} ${'words '.repeat(Math.floor(random() * 40))}`, chance(0.05) ? { notes: ['[a file]'] } : {}));
    }
    if (chance(0.04)) turns.push(turn('user', author(), 'look', { images: [{ name: `${step}.png`, width: 800, height: 600, source: { type: 'url', url: `https://cdn.example/${step}.png` } }] }));
    // Only with room for it: a PDF left out for the budget makes every later request a full build.
    if (fixedBudget === undefined && chance(0.01)) turns.push(turn('user', author(), 'read', { documents: [{ name: `${step}.pdf`, pages: 1 + Math.floor(random() * 3), source: { type: 'file', file_id: `file_${step}` } }] }));
    if (chance(0.05) && turns.length > 0) {
      const at = Math.floor(random() * turns.length);
      const edited = turns[at] as HistoryTurn;
      turns[at] = { ...edited, text: `${edited.text} (edited at ${step})` };
    }
    if (chance(0.02) && turns.length > 1) turns.splice(Math.floor(random() * turns.length), 1);
    if (chance(0.03)) system = `You are threadline, version ${step}.`;
    // Now and then a small budget (trimming), for a few replies.
    if (fixedBudget === undefined && (budgetTokens < 1_000_000 ? chance(0.3) : chance(0.03))) budgetTokens = budgetTokens < 1_000_000 ? 1_000_000 : 300 + Math.floor(random() * 3000);
    turns.push(turn('user', author(), chance(0.06) ? '' : `question ${step}?`));
    if (chance(0.05)) turns.push(turn('system', 'system', `instructions changed at ${step}`));
    yield { rules, maxTokens: 1024, system, turns: [...turns], budgetTokens };
    // The answer, sometimes in two parts (a reply split over two platform messages), sometimes
    // none at all (a refusal or an error is stored without text).
    if (chance(0.05)) continue;
    turns.push(turn('assistant', 'self', `answer ${step} ${'text '.repeat(Math.floor(random() * 60))}`));
    if (chance(0.1)) turns.push(turn('assistant', 'self', `more of answer ${step}`));
  }
}

describe('RequestBuilder', () => {
  it.each<[string, number, number | undefined]>([
    ['claude-opus-4-8', 1, undefined],
    ['claude-opus-4-8', 2, undefined],
    ['claude-mythos-preview', 3, undefined],
    ['claude-sonnet-5', 4, undefined],
    ['claude-opus-4-8', 5, undefined],
    // A thread that outgrows a fixed budget halfway.
    ['claude-opus-4-8', 6, 12_000],
    ['claude-mythos-preview', 7, 12_000],
  ])('builds the same request as assemble on a random %s thread (seed %i, budget %s), reusing many of them', (model, seed, budget) => {
    const builder = new RequestBuilder();
    let previous: readonly unknown[] | undefined;
    let reused = 0;
    let steps = 0;
    for (const input of conversation(seed, model, 150, budget)) {
      const built = builder.build(input);
      expect(built).toEqual(assemble(input));
      // What is sent: the text kept for each message from the requests before is still exact.
      expect(requestJson(built.request)).toBe(JSON.stringify(built.request));
      // The system prompt's, the automatic one and at most two stride breakpoints (§10: four at most).
      expect(JSON.stringify(built.request).split('"cache_control"').length - 1).toBeLessThanOrEqual(4);
      if (previous !== undefined && built.request.messages[0] === previous[0]) reused += 1;
      previous = built.request.messages;
      steps += 1;
    }
    // Most replies only add to the thread: the cheap path must actually be the usual one.
    expect(reused / steps).toBeGreaterThan(0.2);
  });

  const wide = (name: string) => ({ name, width: 3000, height: 1000, source: { type: 'url' as const, url: `https://cdn.example/${name}` } });
  const inlinePng = (name: string, megabytes: number) => ({ name, width: 800, height: 600, source: { type: 'base64' as const, media_type: 'image/png', data: 'A'.repeat(megabytes * 1024 * 1024) } });
  const pictures = (count: number) => Array.from({ length: count }, (_, i) => turn('user', 'alice', `picture ${i}`, { images: [wide(`${i}.png`)] }));
  it.each<[string, string, HistoryTurn[], HistoryTurn[]]>([
    [
      'a system message whose answer never came moves past the user turns after it',
      'claude-opus-4-8',
      [turn('user', 'alice', 'q1'), turn('assistant', 'self', 'a1'), turn('user', 'alice', 'q2'), turn('system', 'system', 'new rules')],
      [turn('user', 'alice', 'chatter'), turn('user', 'alice', 'q3')],
    ],
    [
      'a 21st image makes the limits drop the wide ones before it',
      'claude-opus-4-8',
      [...pictures(19), turn('assistant', 'self', 'nice'), turn('user', 'alice', 'one more', { images: [wide('20.png')] })],
      [turn('assistant', 'self', 'ok'), turn('user', 'alice', 'and this', { images: [wide('21.png')] })],
    ],
    [
      'an image over 8000 px is left out with a note',
      'claude-opus-4-8',
      [turn('user', 'alice', 'q1'), turn('assistant', 'self', 'a1'), turn('user', 'alice', 'q2')],
      [turn('assistant', 'self', 'a2'), turn('user', 'alice', 'huge', { images: [{ ...wide('huge.png'), width: 9000 }] })],
    ],
    [
      'inline images past the request size limit leave the oldest out',
      'claude-opus-4-8',
      [turn('user', 'alice', 'big one', { images: [inlinePng('a.png', 9)] }), turn('assistant', 'self', 'seen'), turn('user', 'alice', 'another', { images: [inlinePng('b.png', 9)] })],
      [turn('assistant', 'self', 'seen too'), turn('user', 'alice', 'and a third', { images: [inlinePng('c.png', 9)] })],
    ],
    [
      'a second author names every turn',
      'claude-opus-4-8',
      [turn('user', 'alice', 'q1'), turn('assistant', 'self', 'a1'), turn('user', 'alice', 'q2')],
      [turn('assistant', 'self', 'a2'), turn('user', 'bob', 'q3')],
    ],
    [
      'an empty mention is rewritten as a request',
      'claude-opus-4-8',
      [turn('user', 'alice', 'q1'), turn('assistant', 'self', 'a1'), turn('user', 'alice', 'q2')],
      [turn('assistant', 'self', 'a2'), turn('user', 'alice', '')],
    ],
  ])('gives the full build whenever extending would differ: %s', (_name, model, first, added) => {
    const builder = new RequestBuilder();
    const rules = modelRules(model);
    const input = (turns: HistoryTurn[]): AssembleInput => ({ rules, maxTokens: 1024, system: 's', turns, budgetTokens: 100_000 });
    builder.build(input(first));
    const next = input([...first, ...added]);
    expect(builder.build(next)).toEqual(assemble(next));
  });

  it.each([
    ['claude-opus-4-8', 'claude-sonnet-4-6'],
    ['claude-sonnet-4-6', 'claude-opus-4-8'],
    ['claude-opus-4-8', 'claude-haiku-4-5'],
  ])('a conversation moving from %s to %s gets the new model\'s full build, system turns included or left out', (from, to) => {
    const builder = new RequestBuilder();
    const turns = [turn('user', 'alice', 'q1'), turn('system', 'system', 'be brief'), turn('assistant', 'self', 'a1'), turn('user', 'alice', 'q2')];
    const input = (model: string, all: HistoryTurn[]): AssembleInput => ({ rules: modelRules(model), maxTokens: 100_000, system: 's', turns: all, budgetTokens: 100_000 });
    builder.build(input(from, turns));
    const next = input(to, [...turns, turn('assistant', 'self', 'a2'), turn('user', 'alice', 'q3')]);
    const built = builder.build(next);
    expect(built).toEqual(assemble(next));
    expect(built.request.model).toBe(to);
    expect(built.request.max_tokens).toBe(Math.min(100_000, modelRules(to).maxOutputTokens));
    expect(built.request.messages.some((message) => (message.role as string) === 'system')).toBe(modelRules(to).midConversationSystem);
  });

  it('looks the rules of one model id up as one object, so requests keep extending', () => {
    expect(modelRules('claude-sonnet-4-6')).toBe(modelRules('claude-sonnet-4-6'));
    expect(Object.isFrozen(modelRules('claude-unknown-7'))).toBe(true);
  });

  it('never changes a request it handed out when it builds the next one', () => {
    const builder = new RequestBuilder();
    const rules = modelRules('claude-opus-4-8');
    const turns = [turn('user', 'alice', 'first?'), turn('assistant', 'self', 'one'), turn('user', 'alice', 'second?')];
    const first = builder.build({ rules, maxTokens: 1024, system: 's', turns, budgetTokens: 100_000 });
    const snapshot = JSON.stringify(first.request);
    const second = builder.build({ rules, maxTokens: 1024, system: 's', turns: [...turns, turn('user', 'alice', 'and a follow-up'), turn('assistant', 'self', 'two'), turn('user', 'alice', 'third?')], budgetTokens: 100_000 });
    expect(JSON.stringify(first.request)).toBe(snapshot);
    expect(second.request.messages[0]).toBe(first.request.messages[0]);
    expect(second.request.messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
  });
});
