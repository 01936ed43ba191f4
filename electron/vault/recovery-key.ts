import { qrCodeOf } from '../base/qr-code';
import { HalfkeyError } from '../../shared/api/result';
import type { Sodium } from '../../shared/sodium';

/**
 * The recovery key: 30 random bytes written as 48 Crockford base32 characters in 8 groups of 6,
 * then one group of 4 check characters (20 bits of a keyed BLAKE2b of the key), after an `HK1`
 * prefix. The check group catches typos before any decryption is tried.
 */
const KEY_BYTES = 30;
const GROUP = 6;
const CHECK_CHARS = 4;
const PREFIX = 'HK1';
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CHECK_DOMAIN = 'halfkey/recovery-key-check/v1';
const WRAP_DOMAIN = 'halfkey/recovery-key-wrap/v1';

function encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function decode(chars: string, byteLength: number): Uint8Array {
  const out = new Uint8Array(byteLength);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const c of chars) {
    buffer = (buffer << 5) | ALPHABET.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out[index++] = (buffer >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

function checkChars(key: Uint8Array, sodium: Sodium): string {
  return encode(sodium.crypto_generichash(16, key, sodium.from_string(CHECK_DOMAIN))).slice(0, CHECK_CHARS);
}

/** A fresh recovery key: the raw bytes and the text a person writes down. */
export function newRecoveryKey(sodium: Sodium): { readonly bytes: Uint8Array; readonly text: string } {
  const bytes = sodium.randombytes_buf(KEY_BYTES);
  return { bytes, text: formatRecoveryKey(bytes, sodium) };
}

/** The grouped text form: `HK1-XXXXXX-…-XXXXXX-CCCC`. */
export function formatRecoveryKey(bytes: Uint8Array, sodium: Sodium): string {
  const body = encode(bytes);
  const groups = body.match(new RegExp(`.{${GROUP}}`, 'g')) ?? [];
  return [PREFIX, ...groups, checkChars(bytes, sodium)].join('-');
}

/**
 * Parses a recovery key as typed: case, spaces and dashes are ignored, and the look-alikes
 * I/L (one) and O (zero) are accepted. Throws INVALID_PAYLOAD saying what is wrong.
 */
export function parseRecoveryKey(text: string, sodium: Sodium): Uint8Array {
  const bodyLength = Math.ceil((KEY_BYTES * 8) / 5);
  let chars = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (chars.startsWith(PREFIX)) chars = chars.slice(PREFIX.length);
  const bad = [...chars].findIndex((c) => !ALPHABET.includes(c));
  if (bad >= 0) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `The recovery key has a character that is never used in recovery keys at position ${bad + 1} (after the HK1 prefix); check it against the printed kit.`,
      {
        field: 'recoveryKey',
      },
    );
  }
  if (chars.length !== bodyLength + CHECK_CHARS) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `The recovery key should have ${bodyLength + CHECK_CHARS} characters after the HK1 prefix, but ${chars.length} were given; check for a missing or extra group.`,
      {
        field: 'recoveryKey',
      },
    );
  }
  const bytes = decode(chars.slice(0, bodyLength), KEY_BYTES);
  if (checkChars(bytes, sodium) !== chars.slice(bodyLength)) {
    sodium.memzero(bytes);
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      'The recovery key does not match its check group (the last 4 characters): a character is mistyped. Check each group against the printed kit.',
      {
        field: 'recoveryKey',
      },
    );
  }
  return bytes;
}

function wrapKey(recovery: Uint8Array, vaultId: string, sodium: Sodium): Uint8Array {
  return sodium.crypto_generichash(32, sodium.from_string(`${WRAP_DOMAIN}:${vaultId}`), recovery);
}

/** The device master wrapped by the recovery key (nonce‖ciphertext), bound to the vault id. */
export function wrapDeviceMaster(master: Uint8Array, recovery: Uint8Array, vaultId: string, sodium: Sodium): Uint8Array {
  const key = wrapKey(recovery, vaultId, sodium);
  const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(master, `recovery:${vaultId}`, null, nonce, key);
  sodium.memzero(key);
  const out = new Uint8Array(nonce.length + ct.length);
  out.set(nonce, 0);
  out.set(ct, nonce.length);
  return out;
}

/** Unwraps the device master; a well-formed but wrong recovery key throws BAD_RECOVERY_KEY. */
export function unwrapDeviceMaster(wrapped: Uint8Array, recovery: Uint8Array, vaultId: string, sodium: Sodium): Uint8Array {
  const key = wrapKey(recovery, vaultId, sodium);
  const n = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, wrapped.subarray(n), `recovery:${vaultId}`, wrapped.subarray(0, n), key);
  } catch {
    throw new HalfkeyError(
      'BAD_RECOVERY_KEY',
      `This recovery key is valid in form but is not the one made for vault ${vaultId}; find the kit printed when this vault was created.`,
    );
  } finally {
    sodium.memzero(key);
  }
}

/** The recovery key as a QR code: a PNG data URL for the app and a block-character string for a terminal. */
export function recoveryKeyQr(text: string): Promise<{ readonly dataUrl: string; readonly terminal: string }> {
  return qrCodeOf(text);
}
