import { generate } from 'otplib';
import { parseBase32Secret } from './base32';
import { OtpInputError } from './input-error';
import { checkTotpShape, type TotpAlgorithm, type TotpParams } from './params';

export type { TotpAlgorithm, TotpParams } from './params';

/** One TOTP code, the time step it belongs to and how long it stays current. */
export interface TotpCode {
  readonly code: string;
  /** Milliseconds until the next time step starts. */
  readonly remainingMs: number;
  /** The RFC 6238 time-step counter T = floor(time / period). */
  readonly counter: number;
}

/** The two consecutive codes an MFA registration asks for (AWS: "MFA code 1" and "MFA code 2"). */
export interface EnrolmentCodes {
  /** The code of the current time step. */
  readonly first: string;
  /** The code of the next time step. */
  readonly second: string;
  /** The counter of `first`; `second` is counter + 1. */
  readonly counter: number;
  /** Milliseconds until the current step ends. */
  readonly remainingMs: number;
}

/** The code for `params` at `timeMs` (milliseconds since the Unix epoch). */
export async function totpCode(params: TotpParams, timeMs: number): Promise<TotpCode> {
  const p = checkTotpShape(params);
  const counter = counterAt(p, timeMs);
  return { code: await codeFor(p, counter), remainingMs: (counter + 1) * p.period * 1000 - timeMs, counter };
}

/**
 * Two consecutive codes for registering a virtual MFA device: the current step's and the next one's.
 * Current-then-next (not previous-then-current) so that the pair is still accepted if the person takes
 * most of a step to type them in.
 */
export async function enrolmentCodes(params: TotpParams, timeMs: number): Promise<EnrolmentCodes> {
  const p = checkTotpShape(params);
  const counter = counterAt(p, timeMs);
  const [first, second] = await Promise.all([codeFor(p, counter), codeFor(p, counter + 1)]);
  return { first, second, counter, remainingMs: (counter + 1) * p.period * 1000 - timeMs };
}

/** TOTP parameters for a secret typed by hand (AWS "Show secret key"): SHA1, 6 digits, 30 s, as AWS uses. */
export function manualTotpParams(secretText: string, names: { issuer?: string; label?: string } = {}): TotpParams {
  return checkTotpShape({ secret: parseBase32Secret(secretText), algorithm: 'SHA1', digits: 6, period: 30, ...names });
}

function counterAt(p: TotpParams, timeMs: number): number {
  if (!Number.isFinite(timeMs) || timeMs < 0 || timeMs > Number.MAX_SAFE_INTEGER) {
    throw new OtpInputError('OTP_TIME_INVALID', 'The time must be a non-negative number of milliseconds since the Unix epoch.');
  }
  return Math.floor(timeMs / (p.period * 1000));
}

function codeFor(p: TotpParams, counter: number): Promise<string> {
  // HOTP at the counter we computed, so the counter we report is exactly the one the code used.
  return generate({ strategy: 'hotp', secret: p.secret, counter, algorithm: ALGORITHMS[p.algorithm], digits: p.digits });
}

const ALGORITHMS = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const satisfies Record<TotpAlgorithm, string>;

// Blob layout (version 1), sealed by the vault as one value, so no secret ever sits in a JSON string:
//   [0] version = 1   [1] flags: bit 0 issuer present, bit 1 label present
//   [2] algorithm: 1 SHA1, 2 SHA256, 3 SHA512   [3] digits   [4] period (s)   [5] secret length n
//   [6 .. 6+n) secret   then, for issuer and label when present: u16 big-endian length + UTF-8 bytes.
const BLOB_VERSION = 1;
const ALGORITHM_BYTES: readonly TotpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

/** Encodes TOTP parameters as one byte blob, for sealing under the device key and to custodians. */
export function serializeTotpParams(params: TotpParams): Uint8Array {
  const p = checkTotpShape(params);
  const encoder = new TextEncoder();
  const issuer = p.issuer === undefined ? undefined : encoder.encode(p.issuer);
  const label = p.label === undefined ? undefined : encoder.encode(p.label);
  const text = (bytes: Uint8Array | undefined): number => (bytes === undefined ? 0 : 2 + bytes.length);
  const out = new Uint8Array(6 + p.secret.length + text(issuer) + text(label));
  out.set([
    BLOB_VERSION,
    (issuer ? 1 : 0) | (label ? 2 : 0),
    ALGORITHM_BYTES.indexOf(p.algorithm) + 1,
    p.digits,
    p.period,
    p.secret.length,
  ]);
  out.set(p.secret, 6);
  let at = 6 + p.secret.length;
  for (const bytes of [issuer, label]) {
    if (bytes === undefined) continue;
    if (bytes.length > 0xffff) throw new OtpInputError('OTP_PARAMS_INVALID', 'The issuer or label is too long to store.');
    out.set([bytes.length >> 8, bytes.length & 0xff], at);
    out.set(bytes, at + 2);
    at += 2 + bytes.length;
  }
  return out;
}

/** Decodes a blob from serializeTotpParams, checking every length and range; throws OtpInputError OTP_PARAMS_INVALID when malformed. */
export function deserializeTotpParams(blob: Uint8Array): TotpParams {
  const bad = (why: string): OtpInputError => new OtpInputError('OTP_PARAMS_INVALID', `The stored TOTP parameters are malformed (${why}).`);
  if (!(blob instanceof Uint8Array) || blob.length < 6) throw bad('too short');
  const [version = 0, flags = 0, algorithmByte = 0, digits = 0, period = 0, secretLength = 0] = blob;
  if (version !== BLOB_VERSION) throw bad(`unknown version ${version}`);
  if ((flags & ~3) !== 0) throw bad('unknown flags');
  const algorithm = ALGORITHM_BYTES[algorithmByte - 1];
  if (algorithm === undefined) throw bad('unknown algorithm');
  let at = 6 + secretLength;
  if (blob.length < at) throw bad('secret cut short');
  const secret = blob.slice(6, at);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const readText = (present: boolean): string | undefined => {
    if (!present) return undefined;
    if (blob.length < at + 2) throw bad('text length cut short');
    const length = ((blob[at] ?? 0) << 8) | (blob[at + 1] ?? 0);
    const end = at + 2 + length;
    if (blob.length < end) throw bad('text cut short');
    let value: string;
    try {
      value = decoder.decode(blob.subarray(at + 2, end));
    } catch {
      throw bad('text is not UTF-8');
    }
    at = end;
    return value;
  };
  const issuer = readText((flags & 1) !== 0);
  const label = readText((flags & 2) !== 0);
  if (at !== blob.length) throw bad('trailing bytes');
  return checkTotpShape({
    secret,
    algorithm,
    digits,
    period,
    ...(issuer === undefined ? {} : { issuer }),
    ...(label === undefined ? {} : { label }),
  });
}
