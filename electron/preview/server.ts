import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { CONTENT_SECURITY_POLICY } from '../app/renderer-files';
import type { ApiRouter } from '../app/router';
import { oneTimeToken, serveApiSocket } from './api-socket';
import { API_PATH, BRIDGE_PATH, MAX_FRAME_BYTES } from './protocol';
import { contentTypeOf, resolveRendererFile } from '../app/renderer-files';
import { loadStaticFile } from './static-files';

/** Where and how to run the preview adapter. */
export interface PreviewOptions {
  readonly router: ApiRouter;
  /** The built renderer (dist/renderer). */
  readonly rendererDir: string;
  /** The bundled bridge script; defaults to dist/preview/preview-bridge.js beside rendererDir. */
  readonly bridgeFile?: string;
  /** Loopback only: the preview is never reachable from another machine. */
  readonly host?: '127.0.0.1';
  /** 0 picks a free port. */
  readonly port?: number;
  /** How long a new API connection may take to present the token (default 10 s). */
  readonly authTimeoutMs?: number;
}

/** A running preview adapter. The token is valid for one connection only. */
export interface PreviewServer {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

/** Sent on every HTTP response, the document included: the same CSP the Electron window gets. */
export const PREVIEW_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** True when an Origin header is exactly this server's origin (parsed, then compared whole). */
export function isOwnOrigin(header: string | undefined, origin: string): boolean {
  if (header === undefined) return false;
  try {
    const parsed = new URL(header);
    return parsed.origin === origin && header === parsed.origin;
  } catch {
    return false;
  }
}

/** The request's path, or null when its target does not parse (a malformed line must not throw in an event handler). */
function pathOf(req: IncomingMessage, origin: string): string | null {
  try {
    return new URL(req.url ?? '/', origin).pathname;
  } catch {
    return null;
  }
}

function refuseUpgrade(socket: Duplex, status: 403 | 404, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function respond(res: ServerResponse, status: number, body: Buffer | string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { ...PREVIEW_HEADERS, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Starts the preview adapter: the built renderer and the API router over a WebSocket, on
 * 127.0.0.1, behind a one-time token and exact Origin and Host checks (a page on any other
 * origin, or a DNS-rebound name, cannot reach the API). Never part of a packaged build.
 */
export async function startPreview(options: PreviewOptions): Promise<PreviewServer> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new Error(`The preview binds to 127.0.0.1 only, not ${String(host)}`);
  const bridgeFile = options.bridgeFile ?? join(options.rendererDir, '..', 'preview', 'preview-bridge.js');
  const token = randomBytes(32).toString('hex');
  const redeemable = oneTimeToken(token);
  let origin = '';
  let expectedHost = '';

  const serveFile = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.headers.host !== expectedHost) return respond(res, 403, 'Wrong Host header: open the preview at 127.0.0.1.\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return respond(res, 405, 'Method not allowed.\n');
    const path = pathOf(req, origin);
    if (path === null) return respond(res, 400, 'Bad request target.\n');
    if (path === BRIDGE_PATH) {
      const file = await loadStaticFile(bridgeFile).catch(() => undefined);
      if (!file) return respond(res, 500, 'The preview bridge is not built: run `npm run build`.\n');
      return respond(res, 200, file.body, contentTypeOf(bridgeFile));
    }
    const found = await resolveRendererFile(options.rendererDir, path).catch(() => 'not-found' as const);
    switch (found) {
      case 'bad-path':
        return respond(res, 400, 'Bad path.\n');
      case 'not-found':
        return respond(res, 404, 'Not found.\n');
      default: {
        const file = await loadStaticFile(found);
        return respond(res, 200, file.body, file.contentType);
      }
    }
  };

  const http = createServer((req, res) => {
    serveFile(req, res).catch(() => {
      if (!res.headersSent) respond(res, 500, 'The preview could not serve this file.\n');
      else res.destroy();
    });
  });
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req, origin) !== API_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    // DNS-rebinding and cross-site defence: only this exact origin and host may open the API.
    if (req.headers.host !== expectedHost || !isOwnOrigin(req.headers.origin, origin)) return refuseUpgrade(socket, 403, 'Forbidden');
    sockets.handleUpgrade(req, socket, head, (ws) => serveApiSocket(ws, options.router, redeemable, options.authTimeoutMs));
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  expectedHost = `${host}:${port}`;
  origin = `http://${expectedHost}`;

  return {
    url: `${origin}/`,
    port,
    token,
    async close() {
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
