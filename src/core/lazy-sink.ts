/**
 * A reply sink whose real sink takes a platform call to make (reading the messages an answer is
 * to be written into): `start` makes it, every other call goes to it. A sink that could not be
 * made fails the answer the usual way (the core explains or logs it).
 */
import type { ErrorCode } from '../errors.js';
import type { FinalReply, PostedIds, ReplySink, ReplyStartInfo } from './types.js';

export function lazySink(make: () => Promise<ReplySink>): ReplySink {
  let made: Promise<ReplySink> | undefined;
  let ready: ReplySink | undefined;
  const get = () => (made ??= make().then((sink) => (ready = sink)));
  return {
    get signal() {
      return ready?.signal;
    },
    async start(info?: ReplyStartInfo) {
      await (await get()).start(info);
    },
    progress(textSoFar) {
      ready?.progress?.(textSoFar);
    },
    thinking() {
      ready?.thinking?.();
    },
    activity(activity) {
      ready?.activity?.(activity);
    },
    modelStarted() {
      ready?.modelStarted?.();
    },
    async finish(reply: FinalReply): Promise<PostedIds> {
      return (await get()).finish(reply);
    },
    async fail(userMessage: string, code: ErrorCode): Promise<PostedIds> {
      return (await get()).fail(userMessage, code);
    },
  };
}
