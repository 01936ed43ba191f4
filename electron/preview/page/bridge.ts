/**
 * The preview bridge: page-side code, bundled by esbuild to dist/preview/preview-bridge.js and
 * served by the preview adapter. It plays the preload's part in plain Chromium: it defines
 * `window.halfkey` with one method per API channel, carried over a WebSocket to the router.
 */
import type { Channel } from '../../../shared/api/contract';
import type { HalfkeyApi } from '../../../shared/api/bridge';
import type { ApiError, ApiResult } from '../../../shared/api/result';
import { API_PATH, type ServerFrame } from '../protocol';

type Settle = (result: ApiResult<unknown>) => void;

/**
 * `[methodName(channel), channel]` for every channel, put in by build/bundle.mjs. Importing the
 * contract here would bundle its schemas and, through them, libsodium's WebAssembly, which the
 * CSP refuses to compile. The e2e test checks the result against the contract.
 */
declare const __HALFKEY_API_METHODS__: readonly (readonly [string, Channel])[];

/** Reads the one-time token from `#token=…` and removes it from the address bar and history. */
function takeToken(): string {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  if (location.hash !== '') history.replaceState(history.state, '', location.pathname + location.search);
  return token;
}

function connect(token: string): (channel: Channel, payload: unknown) => Promise<ApiResult<unknown>> {
  const socket = new WebSocket(`ws://${location.host}${API_PATH}`);
  const pending = new Map<number, Settle>();
  const queued: string[] = [];
  let nextId = 1;
  let ready = false;
  let broken: ApiError | undefined;

  const breakAll = (error: ApiError): void => {
    broken ??= error;
    for (const settle of pending.values()) settle({ ok: false, error: broken });
    pending.clear();
    queued.length = 0;
  };

  socket.addEventListener('open', () => socket.send(JSON.stringify({ token })));
  socket.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (typeof event.data !== 'string') return;
    const frame = JSON.parse(event.data) as ServerFrame;
    if ('authenticated' in frame) {
      ready = true;
      for (const text of queued.splice(0)) socket.send(text);
      return;
    }
    if (frame.id === null) {
      if (!frame.result.ok) breakAll(frame.result.error);
      return;
    }
    const settle = pending.get(frame.id);
    pending.delete(frame.id);
    settle?.(frame.result);
  });
  socket.addEventListener('close', () => {
    breakAll({
      code: 'INTERNAL',
      message: 'The connection to the Halfkey preview closed. Restart `npm start` and open the new link it prints.',
    });
  });

  return (channel, payload) => {
    if (broken) return Promise.resolve({ ok: false, error: broken });
    const id = nextId++;
    const text = JSON.stringify({ id, channel, payload: payload ?? {} });
    return new Promise((resolve) => {
      pending.set(id, resolve);
      // Calls made before the socket has authenticated wait here, in order.
      if (ready) socket.send(text);
      else queued.push(text);
    });
  };
}

const call = connect(takeToken());
const api = Object.freeze(
  Object.fromEntries(__HALFKEY_API_METHODS__.map(([method, channel]) => [method, (request: unknown) => call(channel, request)])),
) as unknown as HalfkeyApi;
Object.defineProperty(window, 'halfkey', { value: api, enumerable: true, writable: false, configurable: false });
