/**
 * The fake Messages API in a process of its own, as the real API runs on machines of its own:
 * the bench's model latency then does not share the bot's event loop with the double's work.
 * Started by `startRemoteFakeAnthropic` with its options as JSON in argv; answers on IPC.
 */
import { startFakeAnthropic, type FakeAnthropicOptions } from '../test/fakes/anthropic.js';

const options = JSON.parse(process.argv[2] ?? '{}') as FakeAnthropicOptions;
const fake = await startFakeAnthropic(options);
process.send?.({ kind: 'ready', url: fake.url });
process.on('message', (message: { kind: string }) => {
  if (message.kind === 'statuses') process.send?.({ kind: 'statuses', statuses: fake.messageRequests().map((r) => r.status) });
  if (message.kind === 'close') void fake.close().then(() => process.exit(0));
});
