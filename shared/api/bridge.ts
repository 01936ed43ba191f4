import type { ApiResult } from './result';
import type { Channel, RequestOf, ResponseOf } from './contract';

// One character at a time: a pattern with a union of separators would match several ways and
// yield a union of names (`custody:token-checkin` → `custodyCheckin | custodyTokenCheckin | …`).
type Camel<S extends string> = S extends `${infer C}${infer Rest}`
  ? C extends ':' | '.' | '-'
    ? `${Camel<Capitalize<Rest>>}`
    : `${C}${Camel<Rest>}`
  : S;

/** `vault:unlock` → `vaultUnlock`, at the type level (mirrors methodName()). */
export type MethodName<C extends Channel> = Camel<C>;

/**
 * What the page sees as `window.halfkey`: one method per channel, nothing else. The preload
 * (Electron) and the preview bridge (Chromium) both provide exactly this shape.
 */
export type HalfkeyApi = {
  readonly [C in Channel as MethodName<C>]: (request: RequestOf<C>) => Promise<ApiResult<ResponseOf<C>>>;
};

/** Compile-time checks of MethodName on the channels that once produced unions. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const methodNameChecks: [Equal<MethodName<'custody:token-checkin'>, 'custodyTokenCheckin'>, Equal<MethodName<'app:status'>, 'appStatus'>] =
  [true, true];
void methodNameChecks;
