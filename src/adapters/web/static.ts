/**
 * The playground page and its scripts, served from this folder (and markdown-it's browser build
 * from node_modules): nothing comes from a CDN, so the page works offline.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const require = createRequire(import.meta.url);

/** Every file the page may load, by URL path; nothing else is read from disk. */
const FILES: Readonly<Record<string, { readonly path: string; readonly type: string }>> = {
  '/': { path: `${PUBLIC_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/style.css': { path: `${PUBLIC_DIR}style.css`, type: 'text/css; charset=utf-8' },
  '/app.js': { path: `${PUBLIC_DIR}app.js`, type: 'text/javascript; charset=utf-8' },
  '/api.js': { path: `${PUBLIC_DIR}api.js`, type: 'text/javascript; charset=utf-8' },
  '/render.js': { path: `${PUBLIC_DIR}render.js`, type: 'text/javascript; charset=utf-8' },
  '/admin.js': { path: `${PUBLIC_DIR}admin.js`, type: 'text/javascript; charset=utf-8' },
  '/vendor/markdown-it.js': { path: require.resolve('markdown-it/browser').replace(/markdown-it\.umd\.min\.js$/, 'markdown-it.esm.min.mjs'), type: 'text/javascript; charset=utf-8' },
};

/**
 * Scripts from this origin only, no inline code, no plugins, no framing: even if a rendering
 * bug let markup through, it could not run.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function isStaticPath(path: string): boolean {
  return Object.hasOwn(FILES, path);
}

export async function serveStatic(path: string, res: ServerResponse): Promise<void> {
  const file = FILES[path];
  if (file === undefined) return;
  const body = await readFile(file.path);
  res.writeHead(200, {
    'content-type': file.type,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  });
  res.end(body);
}
