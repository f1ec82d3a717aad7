/** Stop presses passed between replicas: what a listener makes of a notification's payload. */
import { describe, expect, it } from 'vitest';
import { StopRequests } from '../../src/store/stop-requests.js';

describe('StopRequests', () => {
  it.each([
    ['42', [42]],
    ['1', [1]],
    ['0', []],
    ['-3', []],
    ['4.5', []],
    ['', []],
    ['tl:stop:42', []],
    ['99999999999999999999', []],
  ] as const)('payload %j → stops %j', (payload, expected) => {
    const stops = new StopRequests();
    const heard: number[] = [];
    stops.listen((questionId) => heard.push(questionId));
    stops.heard(payload);
    expect(heard).toEqual(expected);
  });

  it('tells every listener', () => {
    const stops = new StopRequests();
    const heard: string[] = [];
    stops.listen((id) => heard.push(`a${id}`));
    stops.listen((id) => heard.push(`b${id}`));
    stops.heard('7');
    expect(heard).toEqual(['a7', 'b7']);
  });
});
