import type { ApiResult } from '../../shared/api/result';

/**
 * The preview adapter's wire format over its WebSocket, shared by the server (Node) and the
 * page-side bridge (browser). The first client frame authenticates; every later frame is a call.
 * Types and constants only: the bridge bundles this file, and the page should not carry zod.
 */

/** The first frame a client sends: the one-time token from the link `npm start` printed. */
export interface AuthFrame {
  readonly token: string;
}

/** Every later client frame: one API call, answered by a frame with the same id. */
export interface CallFrame {
  readonly id: number;
  readonly channel: string;
  readonly payload?: unknown;
}

/** Server → client. `id: null` answers a frame that had no usable id (malformed, or the auth frame). */
export type ServerFrame = { readonly authenticated: true } | { readonly id: number | null; readonly result: ApiResult<unknown> };

/** The path of the WebSocket endpoint, relative to the preview origin. */
export const API_PATH = '/api';

/** The path the page loads the bridge script from; the server injects it into index.html. */
export const BRIDGE_PATH = '/preview-bridge.js';

/** The largest frame either side accepts; API requests and responses are small JSON. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Close code after a refused authentication (4000–4999 is the application range). */
export const CLOSE_UNAUTHENTICATED = 4401;
