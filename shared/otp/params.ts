import { checkSecretLength } from './base32';
import { OtpInputError } from './input-error';

/** The HMAC behind a TOTP code (RFC 6238 allows these three). */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

/** Everything needed to produce TOTP codes. `secret` is the seed: key material, main process only, never logged. */
export interface TotpParams {
  readonly secret: Uint8Array;
  readonly algorithm: TotpAlgorithm;
  readonly digits: 6 | 7 | 8;
  /** Time step in seconds, 15–120. */
  readonly period: number;
  readonly issuer?: string;
  readonly label?: string;
}

/** Shortest and longest accepted time step, in seconds. */
export const MIN_PERIOD = 15;
export const MAX_PERIOD = 120;

/** The parameters as they arrive from a parser or a blob, before their ranges are checked. */
export interface UncheckedTotpParams {
  readonly secret: Uint8Array;
  readonly algorithm: string;
  readonly digits: number;
  readonly period: number;
  readonly issuer?: string;
  readonly label?: string;
}

/** Checks every field's range and returns typed TotpParams, or throws OtpInputError naming the field. */
export function checkTotpShape(p: UncheckedTotpParams): TotpParams {
  if (!(p.secret instanceof Uint8Array)) throw new OtpInputError('OTP_PARAMS_INVALID', 'The TOTP secret is not a byte array.');
  checkSecretLength(p.secret.length);
  const algorithm = p.algorithm;
  if (algorithm !== 'SHA1' && algorithm !== 'SHA256' && algorithm !== 'SHA512') {
    throw new OtpInputError('OTP_ALGORITHM_UNSUPPORTED', 'The algorithm is not one of SHA1, SHA256 or SHA512.');
  }
  const digits = p.digits;
  if (digits !== 6 && digits !== 7 && digits !== 8) {
    throw new OtpInputError('OTP_DIGITS_INVALID', `Codes must have 6, 7 or 8 digits, not ${String(digits)}.`);
  }
  if (!Number.isInteger(p.period) || p.period < MIN_PERIOD || p.period > MAX_PERIOD) {
    throw new OtpInputError(
      'OTP_PERIOD_INVALID',
      `The period must be a whole number of seconds from ${MIN_PERIOD} to ${MAX_PERIOD}, not ${String(p.period)}.`,
    );
  }
  return {
    secret: p.secret,
    algorithm,
    digits,
    period: p.period,
    ...(p.issuer === undefined ? {} : { issuer: p.issuer }),
    ...(p.label === undefined ? {} : { label: p.label }),
  };
}
