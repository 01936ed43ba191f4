import { OtpInputError } from './input-error';

/** RFC 4648 base32 alphabet, the encoding every authenticator uses for TOTP seeds. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Fewest secret bytes accepted: 128 bits (RFC 4226 recommends 160; otplib's own floor is also 16). */
export const MIN_SECRET_BYTES = 16;
/** Most secret bytes accepted: a SHA-512 block's worth, and otplib's ceiling. */
export const MAX_SECRET_BYTES = 64;
/** Longest secret text looked at (generous room for spaces between groups). */
export const MAX_SECRET_TEXT = 256;

// Data characters modulo 8 that a whole number of bytes can produce (RFC 4648 section 6).
const VALID_TAIL = new Set([0, 2, 4, 5, 7]);

/**
 * Decodes a base32 TOTP secret as typed or scanned: case-insensitive, spaces and tabs ignored,
 * `=` padding optional but, when present, only at the end and of the right amount. Refuses with an
 * OtpInputError naming the position of a bad character, never the character or the secret.
 */
export function parseBase32Secret(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length > MAX_SECRET_TEXT) {
    throw new OtpInputError(
      'OTP_SECRET_TOO_LONG',
      `The secret text is longer than ${MAX_SECRET_TEXT} characters; check that only the secret was pasted.`,
    );
  }
  const values: number[] = [];
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === ' ' || ch === '\t') continue;
    if (ch === '=') {
      padding++;
      continue;
    }
    const value = ALPHABET.indexOf(ch.toUpperCase());
    if (value < 0 || padding > 0) {
      const what = value < 0 ? 'is not a base32 character (A–Z and 2–7)' : 'follows "=" padding, which may only end the secret';
      throw new OtpInputError('OTP_SECRET_INVALID_CHARACTER', `Character ${i + 1} of the secret ${what}; retype it from the source.`);
    }
    values.push(value);
  }
  if (values.length === 0)
    throw new OtpInputError('OTP_SECRET_MISSING', 'The secret is empty; paste the base32 secret key shown when setting up the MFA device.');
  const tail = values.length % 8;
  if (!VALID_TAIL.has(tail) || (padding > 0 && (values.length + padding) % 8 !== 0)) {
    throw new OtpInputError(
      'OTP_SECRET_INVALID_LENGTH',
      `The secret has ${values.length} base32 characters, which is not a whole number of bytes; a character is probably missing or extra.`,
    );
  }
  const bytes = new Uint8Array(Math.floor((values.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (const value of values) {
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  checkSecretLength(bytes.length);
  return bytes;
}

/** Refuses secrets shorter than MIN_SECRET_BYTES or longer than MAX_SECRET_BYTES, saying by how much. */
export function checkSecretLength(length: number): void {
  if (length < MIN_SECRET_BYTES) {
    throw new OtpInputError(
      'OTP_SECRET_TOO_SHORT',
      `The secret is ${length} bytes (${length * 8} bits); Halfkey requires at least ${MIN_SECRET_BYTES} bytes (${MIN_SECRET_BYTES * 8} bits). Re-register the MFA device to get a longer secret.`,
    );
  }
  if (length > MAX_SECRET_BYTES) {
    throw new OtpInputError('OTP_SECRET_TOO_LONG', `The secret is ${length} bytes; Halfkey accepts at most ${MAX_SECRET_BYTES} bytes.`);
  }
}

/** Encodes bytes as unpadded upper-case base32 (for handing a seed to another tool after an approved export). */
export function encodeBase32(bytes: Uint8Array): string {
  let text = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += ALPHABET.charAt((buffer >> bits) & 31);
    }
  }
  if (bits > 0) text += ALPHABET.charAt((buffer << (5 - bits)) & 31);
  return text;
}
