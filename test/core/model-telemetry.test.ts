/**
 * The bot sets up no OpenTelemetry, so the SDK's spans could record nothing; building them still
 * cost about a sixth of each model request's CPU, which a burst of mentions waits on. The SDK
 * makes none, even when a tracer provider is registered in the process.
 */
import { ProxyTracerProvider, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

describe('model calls and OpenTelemetry', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    trace.disable();
  });

  it('starts no span for a model call, whatever tracer provider the process has', async () => {
    const tracersAsked: string[] = [];
    // A provider without a delegate hands out tracers that do nothing.
    const noop = new ProxyTracerProvider().getTracer('noop');
    const provider: TracerProvider = {
      getTracer: (name: string): Tracer => {
        tracersAsked.push(name);
        return noop;
      },
    };
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    h = await createCoreHarness();
    const sink = recordingSink();
    await h.core.handle(inbound('what is new?', { mentionsBot: true }), { sink: () => sink });
    expect(h.anthropic.messageRequests()).toHaveLength(1);
    expect(tracersAsked).toEqual([]);
  });
});
