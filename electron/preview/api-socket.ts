import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import { fail, type ApiResult } from '../../shared/api/result';
import type { ApiRouter } from '../app/router';
import { z } from 'zod';
import { CLOSE_UNAUTHENTICATED, type AuthFrame, type CallFrame, type ServerFrame } from './protocol';

const authFrame: z.ZodType<AuthFrame> = z.object({ token: z.string().max(256) }).strict();
const callFrame: z.ZodType<CallFrame> = z
  .object({
    id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    channel: z.string().max(128),
    payload: z.unknown().optional(),
  })
  .strict();

/** The one-time token: presented once, then gone. */
export interface OneTimeToken {
  /** True (and the token is spent) when `presented` is the token and it was not used before. */
  redeem(presented: string): boolean;
}

/** A token that can be redeemed exactly once; the comparison takes the same time whatever is presented. */
export function oneTimeToken(token: string): OneTimeToken {
  // Hashing both sides gives equal-length buffers, so timingSafeEqual never throws or leaks length.
  const expected = createHash('sha256').update(token, 'utf8').digest();
  let spent = false;
  return {
    redeem(presented) {
      const given = createHash('sha256').update(presented, 'utf8').digest();
      const matches = timingSafeEqual(expected, given);
      if (!matches || spent) return false;
      spent = true;
      return true;
    },
  };
}

function send(socket: WebSocket, frame: ServerFrame): void {
  socket.send(JSON.stringify(frame));
}

function parseJson(data: RawData, isBinary: boolean): unknown {
  if (isBinary) return undefined;
  try {
    return JSON.parse(data.toString()) as unknown;
  } catch {
    return undefined;
  }
}

function idOf(value: unknown): number | null {
  if (typeof value !== 'object' || value === null || !('id' in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

/** How long a new connection may take to present the token. */
export const AUTH_TIMEOUT_MS = 10_000;

const UNAUTHENTICATED = fail(
  'UNAUTHENTICATED',
  'The preview link is not valid: its one-time token is missing, wrong or already used. Restart `npm start` and open the new link it prints.',
);

/**
 * Serves one WebSocket: the first frame must redeem the token, else the client gets
 * UNAUTHENTICATED and the socket closes. After that each frame is one router call. Payloads are
 * never logged; they may hold passphrases.
 */
export function serveApiSocket(socket: WebSocket, router: ApiRouter, token: OneTimeToken, authTimeoutMs = AUTH_TIMEOUT_MS): void {
  let authenticated = false;
  // A client that never authenticates must not hold a connection open forever.
  const deadline = setTimeout(() => socket.close(CLOSE_UNAUTHENTICATED, 'authentication timed out'), authTimeoutMs);
  socket.once('close', () => clearTimeout(deadline));
  // ws reports protocol faults (an oversized or malformed frame) as an error and then closes the
  // socket itself; without a listener the error would take the whole process down.
  socket.on('error', () => socket.terminate());
  socket.on('message', (data, isBinary) => {
    const frame = parseJson(data, isBinary);
    if (!authenticated) {
      clearTimeout(deadline);
      const auth = authFrame.safeParse(frame);
      if (auth.success && token.redeem(auth.data.token)) {
        authenticated = true;
        send(socket, { authenticated: true });
        return;
      }
      send(socket, { id: idOf(frame), result: UNAUTHENTICATED });
      socket.close(CLOSE_UNAUTHENTICATED, 'unauthenticated');
      return;
    }
    const call = callFrame.safeParse(frame);
    if (!call.success) {
      const result: ApiResult<never> = fail(
        'INVALID_PAYLOAD',
        frame === undefined ? 'The frame is not a JSON text message.' : 'The frame is not a call: expected {"id", "channel", "payload"}.',
      );
      send(socket, { id: idOf(frame), result });
      return;
    }
    const { id, channel, payload } = call.data;
    void router.call(channel, payload, { adapter: 'preview' }).then((result) => {
      if (socket.readyState === socket.OPEN) send(socket, { id, result });
    });
  });
}
