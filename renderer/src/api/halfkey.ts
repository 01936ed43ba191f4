import type { HalfkeyApi } from '../../shared/api/bridge';
import type { ResponseOf } from '../../shared/api/contract';
import type { ApiError } from '../../shared/api/result';

declare global {
  interface Window {
    /** Provided by the Electron preload or the preview bridge; the renderer's only way out. */
    readonly halfkey?: HalfkeyApi;
  }
}

/** What app:status reports: vault, journal and sync state. */
export type AppStatus = ResponseOf<'app:status'>;
export type { ApiError };

/** The API the preload or preview bridge exposes; throws a clear error when neither loaded. */
export function halfkey(): HalfkeyApi {
  const api = window.halfkey;
  if (!api) throw new Error('window.halfkey is missing: open Halfkey through the app or the link `npm start` prints.');
  return api;
}
