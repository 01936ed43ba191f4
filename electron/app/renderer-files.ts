/**
 * Resolving request paths to files of the built renderer, for whichever adapter serves it
 * (app:// in Electron, the preview's HTTP server). Lives outside electron/preview/ because the
 * packaged app needs it and the preview is never packaged.
 */
import { realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

/** The Content-Security-Policy sent as a response header on every app:// response (and by the preview adapter). */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
});

/** Why a request path was not served. */
export type RendererFileRefusal = 'bad-path' | 'not-found';

/**
 * Maps a URL path (`/assets/app.js`, `/` for index.html) to a file inside `root`, refusing
 * anything that could leave it: percent-encoded separators or dots, NUL, backslashes, `.`/`..`
 * segments, and symlinks pointing outside (checked again on the real path).
 */
export async function resolveRendererFile(root: string, urlPath: string): Promise<string | RendererFileRefusal> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return 'bad-path';
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return 'bad-path';
  if (decoded.split('/').some((segment) => segment === '..' || segment === '.')) return 'bad-path';
  const realRoot = await realpath(root);
  const candidate = resolve(realRoot, decoded === '/' ? 'index.html' : decoded.slice(1));
  if (!candidate.startsWith(realRoot + sep)) return 'bad-path';
  try {
    const real = await realpath(candidate);
    if (!real.startsWith(realRoot + sep)) return 'bad-path';
    return (await stat(real)).isFile() ? real : 'not-found';
  } catch {
    return 'not-found';
  }
}

/** The content type for a file name; unknown kinds are opaque bytes. */
export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}
