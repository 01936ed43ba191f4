import type { WireErrorCode } from '../shared/sync/wire';

/** A refusal the server answers with `{ error: { code, message, evidence? } }` and an HTTP status. */
export class WireFailure extends Error {
  override readonly name = 'WireFailure';
  constructor(
    readonly status: number,
    readonly code: WireErrorCode,
    message: string,
    readonly evidence?: unknown,
  ) {
    super(message);
  }
}
