import sodiumModule from 'libsodium-wrappers-sumo';

/** The libsodium API, ready to call. One loader so every side initialises the wasm once. */
export type Sodium = typeof sodiumModule;

let ready: Promise<Sodium> | undefined;

/** Resolves once libsodium's wasm is initialised; safe to call from any process. */
export function sodiumReady(): Promise<Sodium> {
  ready ??= sodiumModule.ready.then(() => sodiumModule);
  return ready;
}

/** The loaded libsodium, for hot paths that already awaited sodiumReady(). Throws if not yet loaded. */
export function sodiumNow(): Sodium {
  if (!loaded) throw new Error('libsodium is not initialised: await sodiumReady() first');
  return sodiumModule;
}

let loaded = false;
void sodiumReady().then(() => {
  loaded = true;
});
