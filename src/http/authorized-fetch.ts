/**
 * Downloads a file that needs a bearer token, without ever sending that token anywhere it does
 * not belong: redirects are followed by hand, and the Authorization header goes only to hosts
 * the caller allows. Also enforces a size limit before and while reading.
 */
import { ThreadlineError } from '../errors.js';

export interface AuthorizedFetchOptions {
  /** Sent as a bearer token to allowed hosts; none for public files. */
  readonly token: string | undefined;
  /** Hosts that may see the token. */
  readonly allowHost: (host: string) => boolean;
  readonly maxBytes: number;
  readonly fetch?: typeof fetch;
  readonly maxRedirects?: number;
  readonly signal?: AbortSignal;
}

export interface Downloaded {
  readonly bytes: Buffer;
  readonly contentType: string | null;
  /** Every URL requested, with whether the token was sent (for logs and tests). */
  readonly hops: ReadonlyArray<{ readonly url: string; readonly withToken: boolean }>;
}

export async function authorizedFetch(url: string, options: AuthorizedFetchOptions): Promise<Downloaded> {
  const doFetch = options.fetch ?? fetch;
  const hops: Array<{ url: string; withToken: boolean }> = [];
  let current = new URL(url);
  for (let redirects = 0; ; redirects += 1) {
    const withToken = options.token !== undefined && (current.protocol === 'https:' || current.protocol === 'http:') && options.allowHost(current.hostname);
    hops.push({ url: `${current.origin}${current.pathname}`, withToken });
    const response = await doFetch(current, {
      redirect: 'manual',
      headers: withToken ? { authorization: `Bearer ${options.token}` } : {},
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (response.status >= 300 && response.status < 400 && response.headers.get('location') !== null) {
      await response.body?.cancel();
      if (redirects >= (options.maxRedirects ?? 5)) throw new ThreadlineError('input_invalid', 'too many redirects while downloading a file');
      current = new URL(response.headers.get('location') as string, current);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ThreadlineError('input_invalid', `download failed with HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > options.maxBytes) {
      await response.body?.cancel();
      throw new ThreadlineError('input_invalid', `file is ${declared} bytes, over the ${options.maxBytes}-byte limit`);
    }
    const bytes = await readLimited(response, options.maxBytes);
    return { bytes, contentType: response.headers.get('content-type'), hops };
  }
}

async function readLimited(response: Response, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  if (response.body === null) return Buffer.alloc(0);
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new ThreadlineError('input_invalid', `file is over the ${maxBytes}-byte limit`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
