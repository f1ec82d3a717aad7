/**
 * The text of an answer while it streams, after every delta, without reading the whole answer
 * again each time. A stream writes one content block at a time: once a later block has begun, the
 * earlier ones are final, so they are read once; only the newest block is read per delta. Equals
 * `textOfBlocks([...earlier, ...blocks])` at every step (its test checks that).
 */
import { NO_TEXT, withBlock, type TextSoFar } from './web-tools/content.js';

type TextualBlock = { readonly type: string; readonly text?: string };

export class StreamedText {
  /** The text of `earlier` and of the first `finalBlocks` blocks of the stream. */
  private final: TextSoFar;
  private finalBlocks = 0;

  /** `earlier`: a continued turn's content so far (pause_turn), which the new blocks extend. */
  constructor(earlier: readonly TextualBlock[] = []) {
    let state = NO_TEXT;
    for (const block of earlier) state = withBlock(state, block);
    this.final = state;
  }

  /** The text now: `blocks` is the stream's content so far, the same blocks as last time and maybe more. */
  of(blocks: readonly TextualBlock[]): string {
    while (this.finalBlocks < blocks.length - 1) this.final = withBlock(this.final, blocks[this.finalBlocks++] as TextualBlock);
    const newest = blocks[this.finalBlocks];
    return newest === undefined ? this.final.text : withBlock(this.final, newest).text;
  }
}

