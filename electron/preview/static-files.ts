import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { BRIDGE_PATH } from './protocol';

/** A file the preview serves: its bytes and content type. */
export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
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
};

/** Why a request path was not served; the server maps each to an HTTP status. */
export type StaticRefusal = 'bad-path' | 'not-found';

/**
 * Maps a URL path to a file inside `root`, refusing anything that could leave it: encoded
 * separators, NUL, `..` segments, and symlinks pointing outside (checked on the real path).
 */
export async function resolveStaticPath(root: string, urlPath: string): Promise<string | StaticRefusal> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return 'bad-path';
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return 'bad-path';
  if (decoded.split('/').some((segment) => segment === '..' || segment === '.')) return 'bad-path';
  const relative = decoded === '/' ? 'index.html' : decoded.slice(1);
  const realRoot = await realpath(root);
  const candidate = resolve(realRoot, relative);
  if (!candidate.startsWith(realRoot + sep)) return 'bad-path';
  let real: string;
  try {
    real = await realpath(candidate);
    if (!(await stat(real)).isFile()) return 'not-found';
  } catch {
    return 'not-found';
  }
  return real.startsWith(realRoot + sep) ? real : 'bad-path';
}

/** The content type for a file name; unknown kinds are served as opaque bytes. */
export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Adds the bridge script to the built index.html, before the app's own script so
 * `window.halfkey` exists when the app starts. The bridge is a classic script; Vite's entry is a
 * module script, and module scripts run after classic ones.
 */
export function injectBridge(html: string): string {
  const tag = `<script src="${BRIDGE_PATH}"></script>`;
  const at = html.search(/<script\b/i);
  if (at >= 0) return html.slice(0, at) + tag + html.slice(at);
  const headEnd = html.search(/<\/head>/i);
  if (headEnd < 0) throw new Error('index.html has neither a <script> nor a </head>: cannot inject the preview bridge');
  return html.slice(0, headEnd) + tag + html.slice(headEnd);
}

/** Reads a served file; index.html gets the bridge injected. */
export async function loadStaticFile(path: string): Promise<StaticFile> {
  const body = await readFile(path);
  const contentType = contentTypeOf(path);
  if (path.endsWith(`${sep}index.html`)) {
    return { body: Buffer.from(injectBridge(body.toString('utf8')), 'utf8'), contentType };
  }
  return { body, contentType };
}
