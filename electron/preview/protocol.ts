import { z } from 'zod';
import type { ApiResult } from '../../shared/api/result';

/**
 * The preview adapter's wire format over its WebSocket, shared by the server (Node) and the
 * page-side bridge (browser). The first client frame authenticates; every later frame is a call.
 */

/** The first frame a client sends: the one-time token from the link `npm start` printed. */
export const authFrame = z.object({ token: z.string().max(256) }).strict();

/** Every later client frame: one API call, answered by a frame with the same id. */
export const callFrame = z
  .object({
    id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    channel: z.string().max(128),
    payload: z.unknown().optional(),
  })
  .strict();

export type AuthFrame = z.infer<typeof authFrame>;
export type CallFrame = z.infer<typeof callFrame>;

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
