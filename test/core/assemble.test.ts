import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/core/request/assemble.js';
import type { HistoryTurn, ImagePart } from '../../src/core/request/types.js';
import { knownModelIds, modelRules } from '../../src/core/models.js';
import { FAKE_MODELS, validateRequest } from '../fakes/anthropic-rules.js';

const u = (text: string, author = 'alice', extra: Partial<HistoryTurn> = {}): HistoryTurn => ({
  role: 'user', authorId: author, authorName: author[0]!.toUpperCase() + author.slice(1), text, images: [], notes: [], ...extra,
});
const a = (text: string): HistoryTurn => ({ role: 'assistant', authorId: 'self', authorName: 'threadline', text, images: [], notes: [] });
const s = (text: string): HistoryTurn => ({ role: 'system', authorId: 'system', authorName: 'system', text, images: [], notes: [] });
const img = (name: string, width: number | null = 800, height: number | null = 600): ImagePart => ({
  name, width, height, source: { type: 'url', url: `https://cdn.example/attachments/1/${name}?ex=ffffffff&is=0&hm=sig` },
});

const build = (turns: HistoryTurn[], model = 'claude-opus-4-8', budgetTokens = 100_000) =>
  assemble({ rules: modelRules(model), maxTokens: 4096, system: 'You are threadline.', turns, budgetTokens });

type Block = { type: string; text?: string };
const shape = (turns: HistoryTurn[], model?: string) =>
  build(turns, model).request.messages.map((m) => `${m.role}[${(m.content as Block[]).map((b) => (b.type === 'text' ? b.text : b.type)).join(' + ')}]`);

describe('assemble', () => {
  it.each<[string, HistoryTurn[], string[]]>([
    ['single user turn', [u('hi')], ['user[hi]']],
    ['merges consecutive turns of one author', [u('a'), u('b')], ['user[a + b]']],
    ['prefixes names when several people speak', [u('a'), u('b', 'bob'), a('ok'), u('c')], ['user[Alice: a + Bob: b]', 'assistant[ok]', 'user[Alice: c]']],
    ['merges consecutive assistant parts', [u('q'), a('part one'), a('part two'), u('next')], ['user[q]', 'assistant[part one + part two]', 'user[next]']],
    ['drops empty turns', [u('q'), a(''), u('   '), u('next')], ['user[q + next]']],
    ['starts with a user turn when the bot spoke first', [a('welcome'), u('thanks')], ['user[(The conversation starts with an earlier message from you.)]', 'assistant[welcome]', 'user[thanks]']],
    ['ends on the turn being answered, not later chatter', [u('q1'), a('a1'), u('q2')], ['user[q1]', 'assistant[a1]', 'user[q2]']],
    ['an image-only message implies "describe it"', [u('', 'alice', { images: [img('cat.png')] })], ['user[image + (sent an image without text: describe it)]']],
    ['an empty mention asks for a response to the conversation', [u('context'), a('x'), u('')], ['user[context]', 'assistant[x]', 'user[(mentioned you without any text: respond to the conversation so far)]']],
    ['notes ride along with the text', [u('see file', 'alice', { notes: ['[attachment a.pdf not shown]'] })], ['user[see file\n[attachment a.pdf not shown]]']],
  ])('%s', (_name, turns, expected) => {
    expect(shape(turns)).toEqual(expected);
  });

  it('puts images in user turns only, in order, before their text', () => {
    const turns = [u('look', 'alice', { images: [img('1.png'), img('2.png')] }), { ...a('nice'), images: [img('x.png')] }, u('and this', 'alice', { images: [img('3.png')] })];
    const messages = build(turns).request.messages;
    const images = messages.flatMap((m) => m.content.filter((b) => b.type === 'image').map((b) => `${m.role}:${JSON.stringify(b).match(/\/(\d|x)\.png/)?.[1]}`));
    expect(images).toEqual(['user:1', 'user:2', 'user:3']);
    expect(messages[0]?.content.map((b) => b.type)).toEqual(['image', 'image', 'text']);
  });

  it('keeps mid-conversation system turns where allowed, drops them where not', () => {
    const turns = [u('q1'), a('a1'), u('q2'), s('new rules')];
    expect(shape(turns, 'claude-opus-4-8')).toEqual(['user[q1]', 'assistant[a1]', 'user[q2]', 'system[new rules]']);
    expect(shape(turns, 'claude-sonnet-4-6')).toEqual(['user[q1]', 'assistant[a1]', 'user[q2]']);
  });

  it('moves a system turn whose answer never came after the next user turns', () => {
    const turns = [u('q1'), a('a1'), u('q2'), s('rules'), u('q3')];
    expect(shape(turns)).toEqual(['user[q1]', 'assistant[a1]', 'user[q2 + q3]', 'system[rules]']);
  });

  it('trims the oldest turns to the budget, never the newest user turn, and says so', () => {
    const long = 'word '.repeat(2000);
    const turns: HistoryTurn[] = [];
    for (let i = 0; i < 20; i += 1) turns.push(u(`${i} ${long}`), a(`answer ${i}`));
    turns.push(u('the newest question'));
    const result = build(turns, 'claude-opus-4-8', 20_000);
    expect(result.omittedTurns).toBeGreaterThan(0);
    expect(result.estimatedInputTokens).toBeLessThanOrEqual(20_000);
    const messages = result.request.messages;
    expect(messages[0]?.role).toBe('user');
    expect((messages[0]?.content[0] as Block).text).toMatch(/earlier messages were left out/);
    expect((messages.at(-1)?.content.at(-1) as Block).text).toBe('the newest question');
  });

  it('moves the trim point in steps, so consecutive turns usually share the same cut', () => {
    const turns: HistoryTurn[] = [];
    const cuts: number[] = [];
    for (let i = 0; i < 60; i += 1) {
      turns.push(u(`question ${i} ${'lorem ipsum '.repeat(100)}`), a(`answer ${i} ${'dolor sit '.repeat(100)}`));
      cuts.push(build([...turns, u('now?')], 'claude-opus-4-8', 10_000).omittedTurns);
    }
    const moves = cuts.filter((cut, i) => i > 0 && cut !== cuts[i - 1]).length;
    expect(Math.max(...cuts)).toBeGreaterThan(0);
    expect(moves).toBeLessThan(cuts.filter((c) => c > 0).length / 2);
  });

  it('shortens a single message larger than the whole budget', () => {
    const result = build([u('x'.repeat(200_000))], 'claude-opus-4-8', 10_000);
    const text = (result.request.messages[0]?.content[0] as Block).text ?? '';
    expect(text.length).toBeLessThan(40_000);
    expect(text).toMatch(/message truncated/);
  });

  it('keeps the newest images within the count limit and notes the rest', () => {
    const turns = Array.from({ length: 110 }, (_, i) => u(`pic ${i}`, 'alice', { images: [img(`${i}.png`, 500, 500)] }));
    const result = build(turns);
    const images = result.request.messages.flatMap((m) => m.content.filter((b) => b.type === 'image'));
    expect(images).toHaveLength(100);
    expect(result.omittedImages).toEqual(Array.from({ length: 10 }, (_, i) => `${i}.png`));
    expect(JSON.stringify(result.request.messages[0])).toMatch(/0\.png not shown: only the newest 100/);
  });

  it('sends inline images newest first only up to 24 MB together, so the request stays under 32 MB', () => {
    // 6.75 MB of PNG each: 9 MB as base64, under the 10 MB per image.
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(6.75 * 1024 * 1024)]).toString('base64');
    const inline = (name: string): ImagePart => ({ name, width: 800, height: 600, source: { type: 'base64', media_type: 'image/png', data: png } });
    const turns = [0, 1, 2, 3].flatMap((i) => [u(`screenshot ${i}`, 'alice', { images: [inline(`${i}.png`)] }), a(`seen ${i}`)]).concat([u('compare them', 'alice', { images: [img('url.png')] })]);
    const result = build(turns);
    expect(result.omittedImages).toEqual(['0.png', '1.png']);
    expect(JSON.stringify(result.request.messages[0])).toMatch(/0\.png not shown: the request can carry only 24 MB of inline images/);
    expect(JSON.stringify(result.request).length).toBeLessThan(32 * 1024 * 1024);
    expect(validateRequest(result.request as never)).toBeUndefined();
  });

  it('over 20 images, drops those larger than 2000 px a side', () => {
    const turns = Array.from({ length: 25 }, (_, i) => u(`pic ${i}`, 'alice', { images: [img(`${i}.png`, i === 3 ? 3000 : 1000, 800)] }));
    const result = build(turns);
    expect(result.omittedImages).toEqual(['3.png']);
  });

  it('never sends sampling parameters or a prefill, and caps max_tokens to the model', () => {
    for (const id of [...knownModelIds(), 'claude-unknown-7']) {
      const request = build([u('q'), a('a'), u('q2')], id).request as unknown as Record<string, unknown>;
      for (const field of ['temperature', 'top_p', 'top_k']) expect(request).not.toHaveProperty(field);
      expect((request.messages as Array<{ role: string }>).at(-1)?.role).toBe('user');
    }
    expect(assemble({ rules: modelRules('claude-haiku-4-5'), maxTokens: 100_000, system: 's', turns: [u('q')], budgetTokens: 1000 }).request.max_tokens).toBe(64_000);
  });

  it('uses at most 4 cache breakpoints', () => {
    const request = build([u('q'), a('a'), u('q2')]).request;
    const count = JSON.stringify(request).split('"cache_control"').length - 1;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(4);
  });

  it('yields byte-identical prefixes turn after turn (prompt cache)', () => {
    const turns = [u('q1'), a('a1'), u('q2', 'bob')];
    const before = JSON.stringify(build(turns).request.messages.slice(0, 2));
    const after = JSON.stringify(build([...turns, a('a2'), u('q3')]).request.messages.slice(0, 2));
    expect(after).toBe(before);
  });
});

describe('every request the core can build is accepted by the API rules, on every model', () => {
  const threads: Array<[string, HistoryTurn[]]> = [
    ['plain', [u('hi')]],
    ['multi-author with images', [u('a', 'alice', { images: [img('1.png')] }), u('b', 'bob'), a('x'), u('', 'carol', { images: [img('2.png')] })]],
    ['bot first, then empty turns', [a('hello'), u(''), a(''), u('ok')]],
    ['system message after a change', [u('q1'), a('a1'), u('q2'), s('new rules')]],
    ['system message whose answer failed', [u('q1'), a('a1'), u('q2'), s('rules'), u('q3')]],
    ['system message after a deleted user turn', [u('q1'), a('a1'), s('orphan'), a('a2'), u('q3')]],
    ['trimmed long thread', Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? u(`q${i} ${'z '.repeat(800)}`) : a(`a${i}`))).concat([u('last')])],
  ];
  const models = [...Object.keys(FAKE_MODELS), 'claude-unknown-1'];
  for (const [name, turns] of threads) {
    it.each(models)(`${name} on %s`, (model) => {
      const request = build(turns, model, 20_000).request as unknown as Record<string, unknown>;
      const fakeModel = model in FAKE_MODELS ? model : 'claude-sonnet-4-5';
      expect(validateRequest({ ...request, model: fakeModel })).toBeUndefined();
    });
  }
});
