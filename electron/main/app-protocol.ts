import { readFile } from 'node:fs/promises';
import { contentTypeOf, resolveRendererFile } from '../app/renderer-files';
import { APP_HOST, APP_SCHEME, CONTENT_SECURITY_POLICY } from './security';

/** Headers on every app:// response, served files and refusals alike. */
function securityHeaders(contentType: string): Headers {
  return new Headers({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'Content-Type': contentType,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
}

function refusal(status: 400 | 404 | 405, text: string): Response {
  return new Response(text, { status, headers: securityHeaders('text/plain; charset=utf-8') });
}

/**
 * The `app://halfkey/…` handler for `protocol.handle`: serves the built renderer from
 * `rendererDir`, GET/HEAD only, with the CSP as a response header on every response. A request
 * for another host, or for a path outside the folder, is refused, never served.
 */
export function createAppProtocolHandler(rendererDir: string): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return refusal(405, 'Only GET is served.');
    const url = new URL(request.url);
    if (url.protocol !== `${APP_SCHEME}:` || url.hostname !== APP_HOST || url.port !== '') return refusal(404, 'Unknown host.');
    // The URL parser has already folded plain `..`; resolveRendererFile() catches encoded forms and symlinks.
    const file = await resolveRendererFile(rendererDir, url.pathname === '' ? '/' : url.pathname);
    if (file === 'bad-path') return refusal(400, 'The path leaves the application folder.');
    if (file === 'not-found') return refusal(404, 'Not found.');
    const body = request.method === 'HEAD' ? null : await readFile(file);
    return new Response(body, { status: 200, headers: securityHeaders(contentTypeOf(file)) });
  };
}
