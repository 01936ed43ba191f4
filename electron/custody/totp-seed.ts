import { HalfkeyError } from '../../shared/api/result';
import { encodeBase32 } from '../../shared/otp/base32';
import { OtpInputError } from '../../shared/otp/input-error';
import { parseOtpauthUri } from '../../shared/otp/otpauth';
import { manualTotpParams, serializeTotpParams, type TotpParams } from '../../shared/otp/totp';

/**
 * Parses an imported MFA seed, an `otpauth://totp/…` URI or a bare base32 secret (AWS "Show
 * secret key": SHA1, 6 digits, 30 s), into the blob that gets sealed. Errors name what is wrong
 * and never echo the input.
 */
export function parseSeed(text: string): Uint8Array {
  const input = text.trim();
  try {
    const params = /^otpauth:/i.test(input) ? parseOtpauthUri(input) : manualTotpParams(input);
    return serializeTotpParams(params);
  } catch (error) {
    if (error instanceof OtpInputError) {
      throw new HalfkeyError('INVALID_PAYLOAD', `The MFA seed was not accepted: ${withoutInput(error.message, input)}`, {
        field: 'seed',
        reason: error.code,
      });
    }
    throw new HalfkeyError('INVALID_PAYLOAD', 'The MFA seed was not accepted: it is neither an otpauth://totp URI nor a base32 secret.', {
      field: 'seed',
    });
  }
}

/**
 * The OTP module promises its messages never contain the secret; this is the second lock on
 * that door: any message sharing a run of 6 characters with the input is replaced.
 */
function withoutInput(message: string, input: string): string {
  const haystack = message.toUpperCase();
  // For a URI only the secret parameter matters; the issuer and label may be quoted back.
  const secret = /^otpauth:/i.test(input) ? (/[?&]secret=([^&#]*)/i.exec(input)?.[1] ?? '') : input;
  const needle = secret.toUpperCase().replace(/\s+/g, '');
  for (let i = 0; i + 6 <= needle.length; i += 1) {
    const run = needle.slice(i, i + 6);
    if (/[A-Z2-7]{6}/.test(run) && haystack.includes(run)) return 'the seed is malformed.';
  }
  return message;
}

/** The `otpauth://totp/…` URI of stored parameters, for an approved seed export. */
export function otpauthUri(params: TotpParams): string {
  const account = encodeURIComponent(params.label ?? 'root');
  const label = params.issuer === undefined ? account : `${encodeURIComponent(params.issuer)}:${account}`;
  const query = new URLSearchParams({
    secret: encodeBase32(params.secret),
    algorithm: params.algorithm,
    digits: String(params.digits),
    period: String(params.period),
  });
  if (params.issuer !== undefined) query.set('issuer', params.issuer);
  return `otpauth://totp/${label}?${query.toString()}`;
}
