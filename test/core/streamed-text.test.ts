import { describe, expect, it } from 'vitest';
import { StreamedText } from '../../src/core/streamed-text.js';
import { textOfBlocks } from '../../src/core/web-tools/content.js';

type Block = { type: string; text?: string };

/** A small deterministic generator, so a failure names its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

const PIECES = ['', ' ', 'Let me look. ', 'word', '  spaced  ', '\n', 'Found it.', ' and more'];

describe('StreamedText', () => {
  it('equals textOfBlocks of the earlier content and the blocks so far after every delta', () => {
    for (let seed = 1; seed <= 300; seed += 1) {
      const next = random(seed);
      const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
      const earlier: Block[] = Array.from({ length: Math.floor(next() * 3) }, () => (next() < 0.6 ? { type: 'text', text: pick(PIECES) } : { type: 'server_tool_use' }));
      const streamed = new StreamedText(earlier);
      const blocks: Block[] = [];
      expect(streamed.of(blocks), `seed ${seed}, empty`).toBe(textOfBlocks(earlier));
      for (let step = 0; step < 25; step += 1) {
        const last = blocks[blocks.length - 1];
        const roll = next();
        // As a stream does: a new block begins, or the newest text block grows (by a new object or in place).
        if (last === undefined || roll < 0.3) blocks.push(next() < 0.6 ? { type: 'text', text: '' } : { type: pick(['server_tool_use', 'web_search_tool_result', 'thinking']) });
        else if (last.type === 'text' && roll < 0.65) blocks[blocks.length - 1] = { type: 'text', text: `${last.text ?? ''}${pick(PIECES)}` };
        else if (last.type === 'text') last.text = `${last.text ?? ''}${pick(PIECES)}`;
        expect(streamed.of(blocks), `seed ${seed}, step ${step}`).toBe(textOfBlocks([...earlier, ...blocks]));
      }
    }
  });
});
