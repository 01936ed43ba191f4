import type { ApiResult } from './result';
import type { Channel, RequestOf, ResponseOf } from './contract';

type Camel<S extends string> = S extends `${infer Head}${':' | '.' | '-'}${infer Tail}` ? `${Head}${Camel<Capitalize<Tail>>}` : S;

/** `vault:unlock` → `vaultUnlock`, at the type level (mirrors methodName()). */
export type MethodName<C extends Channel> = Camel<C>;

/**
 * What the page sees as `window.halfkey`: one method per channel, nothing else. The preload
 * (Electron) and the preview bridge (Chromium) both provide exactly this shape.
 */
export type HalfkeyApi = {
  readonly [C in Channel as MethodName<C>]: (request: RequestOf<C>) => Promise<ApiResult<ResponseOf<C>>>;
};
