/**
 * Cached conversations keep one copy of each distinct system prompt (conversations.ts,
 * SHARED_PROMPTS): threads with the same instructions share it, whether their prompt was just
 * built or read back from the database. Measured as heap, after full collections: string
 * identity is not observable in JavaScript, and a prompt kept once per thread is what this stops.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { forEachBackend } from '../helpers/store-backends.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const THREADS = 300;
const PROMPT_BYTES = 20_000;
/** The same text, built anew each time (as buildSystemPrompt builds it for every conversation). */
const promptText = (marker: number) => ['You are threadline.', 'x'.repeat(PROMPT_BYTES), String(marker % 1)].join(' ');

function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

forEachBackend((backend) => {
  describe('system prompts of cached conversations', () => {
    it('are kept once for all the threads that share one, set or read back from the database', async () => {
      const store = await backend.open();
      const ids: number[] = [];
      const before = heapUsed();
      for (let i = 0; i < THREADS; i += 1) {
        const conversation = await store.conversations.findOrCreate({ platform: 'discord', workspaceId: 'g', channelId: 'c', threadKey: `t${i}` }, 1000);
        await store.conversations.setSystemPrompt(conversation.id, promptText(i), 1);
        ids.push(conversation.id);
      }
      const afterSetting = heapUsed();
      // A copy each would be THREADS × PROMPT_BYTES (6 MB); one shared copy leaves room for the rest of each row.
      expect(afterSetting - before).toBeLessThan((THREADS * PROMPT_BYTES) / 4);

      store.conversations.invalidate();
      for (const id of ids) expect((await store.conversations.get(id))?.systemPrompt).toBe(promptText(0));
      const afterReading = heapUsed();
      expect(afterReading - before).toBeLessThan((THREADS * PROMPT_BYTES) / 4);
    });
  });
});
