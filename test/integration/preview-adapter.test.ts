import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { CLOSE_UNAUTHENTICATED, MAX_FRAME_BYTES } from '../../electron/preview/protocol';
import { startPreview, type PreviewServer } from '../../electron/preview/server';
import { createRouter } from '../../electron/app/router';
import { CONTENT_SECURITY_POLICY as CSP } from '../../electron/main/security';

let work: string;
let services: AppServices;
let preview: PreviewServer;
const SECRET_OUTSIDE = 'outside-the-renderer-folder-7f3a';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'halfkey-preview-'));
  // A small stand-in renderer build, with a file beside it that must never be served.
  mkdirSync(join(work, 'renderer', 'assets'), { recursive: true });
  mkdirSync(join(work, 'preview'));
  writeFileSync(
    join(work, 'renderer', 'index.html'),
    '<!doctype html><html><head><script type="module" src="./assets/app.js"></script></head><body></body></html>',
  );
  writeFileSync(join(work, 'renderer', 'assets', 'app.js'), 'console.log("app");');
  writeFileSync(join(work, 'preview', 'preview-bridge.js'), 'window.bridge = 1;');
  writeFileSync(join(work, 'secret.txt'), SECRET_OUTSIDE);
  symlinkSync(join(work, 'secret.txt'), join(work, 'renderer', 'assets', 'escape.txt'));
  services = await openAppServices({ mode: 'preview', vaultDir: join(work, 'vault') });
});

afterAll(async () => {
  await services.close();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(async () => {
  preview = await startPreview({
    router: createRouter(createHandlerTable(services)),
    rendererDir: join(work, 'renderer'),
    host: '127.0.0.1',
    port: 0,
  });
});

afterEach(async () => {
  await preview.close();
});

const origin = (): string => `http://127.0.0.1:${preview.port}`;

/** Opens the API socket; resolves once open, or with the HTTP status when the upgrade is refused. */
function openSocket(options: { origin?: string; host?: string } = {}): Promise<WebSocket | number> {
  const headers: Record<string, string> = options.host === undefined ? {} : { Host: options.host };
  const socket = new WebSocket(`ws://127.0.0.1:${preview.port}/api`, { origin: options.origin ?? origin(), headers });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.once('error', reject);
  });
}

async function authenticatedSocket(token = preview.token): Promise<{ socket: WebSocket; first: unknown }> {
  const socket = await openSocket();
  if (typeof socket === 'number') throw new Error(`upgrade refused with ${socket}`);
  socket.send(JSON.stringify({ token }));
  return { socket, first: await nextFrame(socket) };
}

function nextFrame(socket: WebSocket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    socket.once('message', (data) => resolve(JSON.parse(data.toString()) as unknown));
    socket.once('close', (code) => reject(new Error(`socket closed (${code}) before a frame arrived`)));
  });
}

function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve(-1);
    socket.once('close', (code) => resolve(code));
  });
}

async function call(socket: WebSocket, id: number, channel: string, payload: unknown): Promise<unknown> {
  socket.send(JSON.stringify({ id, channel, payload }));
  return nextFrame(socket);
}

/** A raw GET whose path is sent exactly as given (no URL normalisation by the client). */
function get(
  path: string,
  host = `127.0.0.1:${preview.port}`,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: preview.port, path, headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the preview adapter over a real WebSocket', () => {
  it('answers app:status through the real router after the token is presented', async () => {
    const { socket, first } = await authenticatedSocket();
    expect(first).toEqual({ authenticated: true });
    const reply = (await call(socket, 7, 'app:status', {})) as {
      id: number;
      result: { ok: boolean; value: { mode: string; vault: { state: string } } };
    };
    expect(reply.id).toBe(7);
    expect(reply.result.ok).toBe(true);
    expect(reply.result.value.mode).toBe('preview');
    expect(reply.result.value.vault.state).toMatch(/^(none|locked|unlocked)$/);
    socket.close();
  });

  it('refuses an unknown channel with UNKNOWN_CHANNEL', async () => {
    const { socket } = await authenticatedSocket();
    expect(await call(socket, 1, 'vault:dumpEverything', {})).toMatchObject({
      id: 1,
      result: { ok: false, error: { code: 'UNKNOWN_CHANNEL' } },
    });
    socket.close();
  });

  it('refuses a payload failing its schema with INVALID_PAYLOAD naming the problem', async () => {
    const { socket } = await authenticatedSocket();
    const reply = (await call(socket, 2, 'app:status', { extra: true })) as {
      result: { ok: false; error: { code: string; message: string } };
    };
    expect(reply.result.error.code).toBe('INVALID_PAYLOAD');
    expect(reply.result.error.message).toContain('extra');
    socket.close();
  });

  it('answers malformed frames with INVALID_PAYLOAD and keeps the connection', async () => {
    const { socket } = await authenticatedSocket();
    socket.send('{not json');
    expect(await nextFrame(socket)).toMatchObject({ id: null, result: { ok: false, error: { code: 'INVALID_PAYLOAD' } } });
    socket.send(JSON.stringify({ id: 'three', channel: 'app:status' }));
    expect(await nextFrame(socket)).toMatchObject({ id: null, result: { ok: false, error: { code: 'INVALID_PAYLOAD' } } });
    socket.send(Buffer.from([1, 2, 3]));
    expect(await nextFrame(socket)).toMatchObject({ id: null, result: { ok: false, error: { code: 'INVALID_PAYLOAD' } } });
    expect(await call(socket, 4, 'app:status', {})).toMatchObject({ id: 4, result: { ok: true } });
    socket.close();
  });

  it('refuses a call made without the token with UNAUTHENTICATED and closes the socket', async () => {
    const socket = await openSocket();
    if (typeof socket === 'number') throw new Error(`upgrade refused with ${socket}`);
    const closing = closed(socket);
    expect(await call(socket, 9, 'app:status', {})).toMatchObject({ id: 9, result: { ok: false, error: { code: 'UNAUTHENTICATED' } } });
    expect(await closing).toBe(CLOSE_UNAUTHENTICATED);
  });

  it('refuses a wrong token, and the wrong guess does not reveal or spend the real one', async () => {
    const wrong = await authenticatedSocket('0'.repeat(64));
    expect(wrong.first).toMatchObject({ id: null, result: { ok: false, error: { code: 'UNAUTHENTICATED' } } });
    expect(JSON.stringify(wrong.first)).not.toContain(preview.token);
    expect((await authenticatedSocket()).first).toEqual({ authenticated: true });
  });

  it('refuses a reused token, even after the first connection closed', async () => {
    expect(preview.token).toMatch(/^[0-9a-f]{64}$/);
    const first = await authenticatedSocket();
    expect(first.first).toEqual({ authenticated: true });
    const second = await authenticatedSocket();
    expect(second.first).toMatchObject({ id: null, result: { ok: false, error: { code: 'UNAUTHENTICATED' } } });
    first.socket.close();
    await closed(first.socket);
    const third = await authenticatedSocket();
    expect(third.first).toMatchObject({ result: { ok: false, error: { code: 'UNAUTHENTICATED' } } });
  });

  it('refuses the upgrade with 403 from a wrong Origin', async () => {
    expect(await openSocket({ origin: 'http://evil.example' })).toBe(403);
    expect(await openSocket({ origin: `http://localhost:${preview.port}` })).toBe(403);
    expect(await openSocket({ origin: `http://127.0.0.1:${preview.port + 1}` })).toBe(403);
    expect(await openSocket({ origin: `https://127.0.0.1:${preview.port}` })).toBe(403);
    expect(await openSocket({ origin: `${origin()}/` })).toBe(403);
    expect(await openSocket({ origin: 'null' })).toBe(403);
  });

  it('refuses the upgrade with 403 for a DNS-rebound Host, even with a matching Origin', async () => {
    expect(await openSocket({ host: `rebound.example:${preview.port}` })).toBe(403);
    expect((await get('/', `rebound.example:${preview.port}`)).status).toBe(403);
  });

  it('closes a connection that never presents the token', async () => {
    const quick = await startPreview({
      router: createRouter(createHandlerTable(services)),
      rendererDir: join(work, 'renderer'),
      authTimeoutMs: 200,
    });
    try {
      const socket = new WebSocket(`ws://127.0.0.1:${quick.port}/api`, { origin: `http://127.0.0.1:${quick.port}` });
      await new Promise((resolve) => socket.once('open', resolve));
      expect(await closed(socket)).toBe(CLOSE_UNAUTHENTICATED);
    } finally {
      await quick.close();
    }
  });

  it('closes the socket on a frame over the size limit', async () => {
    const { socket } = await authenticatedSocket();
    const closing = closed(socket);
    socket.send('x'.repeat(MAX_FRAME_BYTES + 1));
    expect(await closing).toBe(1009);
  });
});

describe('the preview adapter over HTTP', () => {
  it('serves index.html with the bridge injected before the app script, and security headers', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body.indexOf('<script src="/preview-bridge.js"></script>')).toBeGreaterThan(0);
    expect(page.body.indexOf('/preview-bridge.js')).toBeLessThan(page.body.indexOf('./assets/app.js'));
    const bridge = await get('/preview-bridge.js');
    expect(bridge.body).toBe('window.bridge = 1;');
    expect(bridge.headers['content-type']).toContain('javascript');
  });

  it('sends the CSP on errors too', async () => {
    const missing = await get('/nope.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-security-policy']).toBe(CSP);
  });

  it('refuses path traversal, encoded or not', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/%00index.html',
      '/%E0%A4%A',
      '/assets/escape.txt',
    ]) {
      const response = await get(path);
      expect([400, 404], path).toContain(response.status);
      expect(response.body, path).not.toContain(SECRET_OUTSIDE);
    }
    expect((await get('/assets/app.js')).status).toBe(200);
  });

  it('survives request targets that do not parse, for files and for the upgrade', async () => {
    const raw = (text: string): Promise<string> =>
      new Promise((resolve, reject) => {
        let reply = '';
        const socket = connect({ host: '127.0.0.1', port: preview.port }, () => socket.write(text));
        socket.on('data', (chunk) => (reply += chunk.toString()));
        socket.on('end', () => resolve(reply));
        socket.on('error', reject);
      });
    const host = `Host: 127.0.0.1:${preview.port}`;
    expect(await raw(`GET http://[ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400/);
    const upgrade = `GET http://[ HTTP/1.1\r\n${host}\r\nOrigin: ${origin()}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    expect(await raw(upgrade)).toMatch(/^HTTP\/1\.1 404/);
    expect((await get('/assets/app.js')).status).toBe(200);
  });

  it('binds 127.0.0.1 only', async () => {
    await expect(
      startPreview({
        router: createRouter(createHandlerTable(services)),
        rendererDir: join(work, 'renderer'),
        host: '0.0.0.0' as '127.0.0.1',
      }),
    ).rejects.toThrow(/127\.0\.0\.1/);
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && !a.internal)
      .map((a) => a?.address ?? '');
    for (const address of ['::1', ...others]) {
      const reached = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: address, port: preview.port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      expect(reached, address).toBe(false);
    }
  });
});
