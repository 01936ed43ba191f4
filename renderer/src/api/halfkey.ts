import type { HalfkeyApi } from '../../../shared/api/bridge';

declare global {
  interface Window {
    /** Provided by the Electron preload or the preview bridge; the renderer's only way out. */
    readonly halfkey?: HalfkeyApi;
  }
}

/** The API the preload or preview bridge exposes; throws a clear error when neither loaded. */
export function halfkey(): HalfkeyApi {
  const api = window.halfkey;
  if (!api) throw new Error('window.halfkey is missing: open Halfkey through the app or the link `npm start` prints.');
  return api;
}
