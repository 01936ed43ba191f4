import type { ApiResult } from './types';

/**
 * Awaits an API call and turns a thrown error (bridge missing, socket closed) into the same
 * `{ ok: false, error }` shape the router returns, so every view handles one kind of failure.
 */
export async function attempt<T>(call: () => Promise<ApiResult<T>>): Promise<ApiResult<T>> {
  try {
    return await call();
  } catch (error) {
    return { ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : 'The call failed.' } };
  }
}

/** Milliseconds until `epochMs`, never negative. */
export function msUntil(epochMs: number, now: number = Date.now()): number {
  return Math.max(0, epochMs - now);
}
