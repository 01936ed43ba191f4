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

/**
 * A start-up problem the operator fixes (a missing or malformed file, an option that cannot
 * work): `halfkey server` prints the message, which names the option and what to do, and exits 2.
 */
export class ServerConfigError extends Error {
  override readonly name = 'ServerConfigError';
}
