/** Stable error codes a program can branch on; the message is for a person. */
export const ERROR_CODES = [
  'UNKNOWN_CHANNEL',
  'INVALID_PAYLOAD',
  'FORBIDDEN_SENDER',
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'CONFLICT',
  'VAULT_LOCKED',
  'VAULT_NOT_INITIALISED',
  'CUSTODIAN_LOCKED',
  'PRESENCE_REQUIRED',
  'BAD_PASSPHRASE',
  'BAD_RECOVERY_KEY',
  'BACKOFF',
  'POLICY_REFUSED',
  'NOT_PERMITTED',
  'UNSUPPORTED',
  'KEYCHAIN_UNAVAILABLE',
  'JOURNAL_INVALID',
  'SYNC_FAILED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiError {
  readonly code: ErrorCode;
  /** What happened and what to do next; never contains a secret. */
  readonly message: string;
  /** Optional machine-readable detail (e.g. the policy rule and item); never a secret. */
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export const ok = <T>(value: T): ApiResult<T> => ({ ok: true, value });
export const fail = (code: ErrorCode, message: string, detail?: ApiError['detail']): ApiResult<never> => ({
  ok: false,
  error: detail === undefined ? { code, message } : { code, message, detail },
});

/** An error a service throws on purpose; the router turns it into `{ ok: false, error }`. */
export class HalfkeyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: ApiError['detail'],
  ) {
    super(message);
    this.name = 'HalfkeyError';
  }
}
