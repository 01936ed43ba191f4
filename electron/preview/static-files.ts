import { readFile } from 'node:fs/promises';
import { sep } from 'node:path';
import { contentTypeOf } from '../app/renderer-files';
import { BRIDGE_PATH } from './protocol';

// Path resolution and content types are shared with the app:// protocol (electron/app/renderer-files.ts).

/** A file the preview serves: its bytes and content type. */
export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
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
