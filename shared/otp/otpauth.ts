import { parseBase32Secret } from './base32';
import { OtpInputError } from './input-error';
import { checkTotpShape, type TotpAlgorithm, type TotpParams } from './params';

/** Longest otpauth URI accepted; real ones are a few hundred characters. */
export const MAX_URI_LENGTH = 2048;
/** Longest issuer, after percent-decoding. */
export const MAX_ISSUER_LENGTH = 128;
/** Longest account label (without the issuer prefix), after percent-decoding. */
export const MAX_LABEL_LENGTH = 256;

const URI_SHAPE = /^otpauth:\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?(?:#.*)?$/is;
// C0 controls, DEL and C1 controls: nothing a person would type in an issuer or label.
function hasControl(text: string): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}
const KNOWN = ['secret', 'issuer', 'algorithm', 'digits', 'period'] as const;
type Known = (typeof KNOWN)[number];

/**
 * Parses a Key URI (`otpauth://totp/Issuer:label?secret=…&issuer=…&algorithm=…&digits=…&period=…`),
 * as scanned from the QR code an MFA registration shows. Only TOTP; unknown parameters are ignored.
 * Throws OtpInputError with a stable code; no message ever contains the secret.
 */
export function parseOtpauthUri(uri: string): TotpParams {
  if (typeof uri !== 'string') throw new OtpInputError('OTP_NOT_OTPAUTH', 'The MFA setup key is not text.');
  const text = uri.trim();
  if (text.length > MAX_URI_LENGTH) {
    throw new OtpInputError('OTP_URI_TOO_LONG', `The otpauth URI is ${text.length} characters; Halfkey accepts at most ${MAX_URI_LENGTH}.`);
  }
  const shape = URI_SHAPE.exec(text);
  if (!shape) {
    throw new OtpInputError('OTP_NOT_OTPAUTH', 'This is not an otpauth:// URI; scan the QR code again or enter the secret key by hand.');
  }
  const [, type = '', path = '', query = ''] = shape;
  checkType(type);
  const params = readQuery(query);
  const { prefix, label } = readLabel(path);
  // An empty issuer (parameter or label prefix) says nothing, so it counts as absent.
  const issuerParam =
    params.issuer === undefined || params.issuer === ''
      ? undefined
      : checkIssuer(decode(params.issuer.replace(/\+/g, ' '), 'issuer parameter').trim());
  if (prefix !== undefined && issuerParam !== undefined && prefix !== issuerParam) {
    throw new OtpInputError(
      'OTP_ISSUER_MISMATCH',
      `The label says the issuer is "${prefix}" but the issuer parameter says "${issuerParam}"; the URI may have been altered. Get a fresh QR code from the provider.`,
    );
  }
  if (params.secret === undefined) {
    throw new OtpInputError('OTP_SECRET_MISSING', 'The otpauth URI has no secret parameter; it cannot produce codes.');
  }
  const secret = parseBase32Secret(decode(params.secret, 'secret'));
  const issuer = issuerParam ?? prefix;
  return checkTotpShape({
    secret,
    algorithm: readAlgorithm(params.algorithm),
    digits: readInteger(params.digits, 6, 'digits'),
    period: readInteger(params.period, 30, 'period'),
    ...(issuer === undefined ? {} : { issuer }),
    ...(label === undefined ? {} : { label }),
  });
}

function checkType(type: string): void {
  const lower = type.toLowerCase();
  if (lower === 'totp') return;
  if (lower === 'hotp') {
    throw new OtpInputError(
      'OTP_HOTP_UNSUPPORTED',
      'This is a counter-based (HOTP) key; Halfkey holds time-based (TOTP) MFA devices only, as AWS virtual MFA uses.',
    );
  }
  const shown = /^[a-z0-9-]{1,16}$/i.test(type) ? `"${type}"` : 'an unknown type';
  throw new OtpInputError('OTP_TYPE_UNSUPPORTED', `The otpauth URI is of type ${shown}; only totp is supported.`);
}

function readQuery(query: string): Partial<Record<Known, string>> {
  const found: Partial<Record<Known, string>> = {};
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
    const known = KNOWN.find((k) => k === key);
    if (known === undefined) continue; // unknown parameters (image, counter, …) are ignored, as the Key URI format asks
    if (found[known] !== undefined) {
      throw new OtpInputError(
        'OTP_DUPLICATE_PARAMETER',
        `The otpauth URI has the ${known} parameter more than once; it is ambiguous which one counts.`,
      );
    }
    found[known] = eq < 0 ? '' : pair.slice(eq + 1);
  }
  return found;
}

function readLabel(path: string): { prefix?: string; label?: string } {
  if (path === '') return {};
  const decoded = decode(path, 'label');
  const colon = decoded.indexOf(':');
  const label = (colon < 0 ? decoded : decoded.slice(colon + 1)).trim();
  if (label.length > MAX_LABEL_LENGTH || hasControl(label)) {
    throw new OtpInputError(
      'OTP_LABEL_INVALID',
      `The account label is longer than ${MAX_LABEL_LENGTH} characters or contains control characters.`,
    );
  }
  const prefixText = colon < 0 ? '' : decoded.slice(0, colon).trim();
  const prefix = prefixText === '' ? undefined : checkIssuer(prefixText);
  return { ...(prefix === undefined ? {} : { prefix }), ...(label === '' ? {} : { label }) };
}

function checkIssuer(issuer: string): string {
  if (issuer.length > MAX_ISSUER_LENGTH || hasControl(issuer) || issuer.includes(':')) {
    throw new OtpInputError(
      'OTP_ISSUER_INVALID',
      `The issuer is longer than ${MAX_ISSUER_LENGTH} characters or contains a colon or control characters.`,
    );
  }
  return issuer;
}

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new OtpInputError('OTP_BAD_PERCENT_ENCODING', `The ${what} of the otpauth URI has a broken %-escape.`);
  }
}

function readAlgorithm(value: string | undefined): TotpAlgorithm {
  if (value === undefined) return 'SHA1';
  const upper = value.toUpperCase();
  if (upper === 'SHA1' || upper === 'SHA256' || upper === 'SHA512') return upper;
  const shown = /^[a-z0-9-]{1,16}$/i.test(value) ? `"${value}"` : 'an unrecognised value';
  throw new OtpInputError('OTP_ALGORITHM_UNSUPPORTED', `The algorithm is ${shown}; TOTP uses SHA1, SHA256 or SHA512.`);
}

function readInteger(value: string | undefined, fallback: number, what: 'digits' | 'period'): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]{1,4}$/.test(value) ? Number(value) : Number.NaN;
  // Range checks live in checkTotpShape; a non-number gets the same code with its own words.
  if (Number.isNaN(n)) {
    const code = what === 'digits' ? 'OTP_DIGITS_INVALID' : 'OTP_PERIOD_INVALID';
    throw new OtpInputError(code, `The ${what} parameter is not a whole number.`);
  }
  return n;
}
