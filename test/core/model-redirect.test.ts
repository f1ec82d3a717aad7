/**
 * The Messages API never redirects. A base URL that answers with a redirect (a wrong
 * ANTHROPIC_BASE_URL) is reported as the API unreachable instead of followed: a followed 301 or
 * 302 turns the POST into a GET without its body. Not following also spares fetch a copy of
 * every request body (model-client.ts, withoutRedirects).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

describe('a Messages API base URL that redirects', () => {
  let h: Harness | undefined;
  let redirector: Server | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await new Promise((resolve) => redirector?.close(resolve));
    redirector = undefined;
  });

  it('is reported as the API unreachable, and the redirect is not followed', async () => {
    let target = '';
    const redirected: string[] = [];
    redirector = createServer((req, res) => {
      redirected.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(307, { location: `${target}${req.url ?? '/'}` }).end();
    });
    await new Promise<void>((resolve) => redirector?.listen(0, '127.0.0.1', resolve));
    const { port } = redirector.address() as AddressInfo;
    h = await createCoreHarness({ modelBaseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 });
    target = h.anthropic.url;
    const sink = recordingSink();
    const outcome = await h.core.handle(inbound('what is new?', { mentionsBot: true }), { sink: () => sink });
    expect(outcome).toMatchObject({ kind: 'failed', code: 'model_unavailable' });
    expect(redirected).toEqual(['POST /v1/messages']);
    expect(h.anthropic.messageRequests()).toHaveLength(0);
  });
});
