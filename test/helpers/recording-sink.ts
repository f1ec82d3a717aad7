/** A ReplySink that records what the core asked it to show, for core-level tests. */
import type { ErrorCode } from '../../src/errors.js';
import type { FinalReply, PostedIds, ReplySink, ToolActivity } from '../../src/core/types.js';

export interface RecordingSink extends ReplySink {
  readonly started: number;
  readonly progress: (text: string) => void;
  readonly progressTexts: string[];
  readonly finished: FinalReply[];
  readonly failed: Array<{ message: string; code: ErrorCode }>;
  readonly activities: ToolActivity[];
}

let nextId = 1;

export function recordingSink(): RecordingSink {
  const sink = {
    started: 0,
    progressTexts: [] as string[],
    finished: [] as FinalReply[],
    failed: [] as Array<{ message: string; code: ErrorCode }>,
    activities: [] as ToolActivity[],
    activity(activity: ToolActivity) {
      sink.activities.push(activity);
    },
    async start() {
      sink.started += 1;
    },
    progress(text: string) {
      sink.progressTexts.push(text);
    },
    async finish(reply: FinalReply): Promise<PostedIds> {
      sink.finished.push(reply);
      return [`posted-${nextId++}`];
    },
    async fail(message: string, code: ErrorCode): Promise<PostedIds> {
      sink.failed.push({ message, code });
      return [`posted-${nextId++}`];
    },
  };
  return sink;
}
