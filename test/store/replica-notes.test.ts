/** Notes between replicas: what a listener makes of a notification's payload, and what fits in one. */
import { describe, expect, it } from 'vitest';
import { encode, fits, ReplicaNotes } from '../../src/store/replica-notes.js';

describe('ReplicaNotes', () => {
  it.each([
    ['a note on the topic', encode('stop', 'r1', '42'), [['42', 'r1']]],
    ['a note on another topic', encode('other', 'r1', '42'), []],
    ['an empty body', encode('stop', 'r2', ''), [['', 'r2']]],
    ['not JSON', 'stop:42', []],
    ['JSON of another shape', JSON.stringify({ topic: 'stop', body: 42 }), []],
    ['a JSON array', JSON.stringify(['stop', 'r1', '42']), []],
    ['null', 'null', []],
  ] as const)('%s', (_name, payload, expected) => {
    const notes = new ReplicaNotes();
    const heard: Array<[string, string]> = [];
    notes.listen('stop', (body, from) => heard.push([body, from]));
    notes.heard(payload);
    expect(heard).toEqual(expected);
  });

  it('passes on no note of its own replica (its listener hears those too)', () => {
    const notes = new ReplicaNotes('me');
    const heard: string[] = [];
    notes.listen('stop', (body, from) => heard.push(`${from}:${body}`));
    notes.heard(encode('stop', 'me', '1'));
    notes.heard(encode('stop', 'other', '2'));
    expect(heard).toEqual(['other:2']);
  });

  it('tells every listener of the topic', () => {
    const notes = new ReplicaNotes();
    const heard: string[] = [];
    notes.listen('stop', (body) => heard.push(`a${body}`));
    notes.listen('stop', (body) => heard.push(`b${body}`));
    notes.heard(encode('stop', 'r', '7'));
    expect(heard).toEqual(['a7', 'b7']);
  });

  it.each([
    [7000, true],
    [7990, false],
    [8100, false],
  ])('a body of %i bytes fits in a notification: %s', (bytes, expected) => {
    expect(fits(encode('edit', 'replica-id-0123', 'x'.repeat(bytes)))).toBe(expected);
  });

  it('counts bytes, not characters', () => {
    expect(fits(encode('edit', 'r', 'é'.repeat(3900)))).toBe(true);
    expect(fits(encode('edit', 'r', 'é'.repeat(4100)))).toBe(false);
  });
});
