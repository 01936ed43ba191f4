import { HalfkeyError } from '../../shared/api/result';
import type { Sodium } from '../../shared/sodium';

/** Argon2id parameters as stored per custodian row, so they can be raised for later passphrases. */
export interface KdfParams {
  readonly alg: number;
  readonly opslimit: number;
  readonly memlimit: number;
  readonly salt: Uint8Array;
}

/** Shortest passphrase accepted for a custodian. */
export const MIN_PASSPHRASE_LENGTH = 12;
const MAX_PASSPHRASE_LENGTH = 1024;
const MIN_DISTINCT_CHARACTERS = 6;
const COMMON = ['password', 'passphrase', 'qwerty', 'letmein', '123456', 'halfkey', 'admin'];

/** Refuses a passphrase too weak to stand behind Argon2id, saying why (never echoing it). */
export function checkPassphraseStrength(passphrase: string, context: { readonly name: string; readonly organisation: string }): void {
  const refuse = (why: string): never => {
    throw new HalfkeyError('INVALID_PAYLOAD', `The passphrase is too weak: ${why}.`, { field: 'passphrase' });
  };
  const chars = [...passphrase];
  if (chars.length < MIN_PASSPHRASE_LENGTH) refuse(`use at least ${MIN_PASSPHRASE_LENGTH} characters (a few unrelated words work well)`);
  if (chars.length > MAX_PASSPHRASE_LENGTH) refuse(`use at most ${MAX_PASSPHRASE_LENGTH} characters`);
  if (new Set(chars).size < MIN_DISTINCT_CHARACTERS) refuse(`use at least ${MIN_DISTINCT_CHARACTERS} different characters`);
  const folded = passphrase.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  for (const word of [context.name, context.organisation].map((w) => w.toLowerCase().replace(/[^\p{L}\p{N}]/gu, ''))) {
    if (word.length >= 3 && folded.includes(word) && folded.length - word.length < MIN_PASSPHRASE_LENGTH)
      refuse('it is mostly the custodian name or organisation');
  }
  for (const word of COMMON) {
    if (folded.includes(word) && folded.length - word.length < MIN_PASSPHRASE_LENGTH)
      refuse(`it is built around the common word "${word}"`);
  }
}

/** Fresh Argon2id parameters at libsodium's MODERATE costs (about 1 s and 256 MiB per derivation). */
export function defaultKdfParams(sodium: Sodium): KdfParams {
  return {
    alg: sodium.crypto_pwhash_ALG_ARGON2ID13,
    opslimit: sodium.crypto_pwhash_OPSLIMIT_MODERATE,
    memlimit: sodium.crypto_pwhash_MEMLIMIT_MODERATE,
    salt: sodium.randombytes_buf(sodium.crypto_pwhash_SALTBYTES),
  };
}

/** Refuses stored parameters below the floor (Argon2id, MODERATE), e.g. from a tampered row. */
export function checkKdfFloor(params: KdfParams, sodium: Sodium): void {
  if (
    params.alg !== sodium.crypto_pwhash_ALG_ARGON2ID13 ||
    params.opslimit < sodium.crypto_pwhash_OPSLIMIT_MODERATE ||
    params.memlimit < sodium.crypto_pwhash_MEMLIMIT_MODERATE
  ) {
    throw new HalfkeyError('INTERNAL', 'The stored key-derivation parameters are below Argon2id MODERATE; the vault file was altered.');
  }
}

/** The secretbox key a passphrase derives under the given parameters. */
export function passphraseKey(passphrase: string, params: KdfParams, sodium: Sodium): Uint8Array {
  return sodium.crypto_pwhash(sodium.crypto_secretbox_KEYBYTES, passphrase, params.salt, params.opslimit, params.memlimit, params.alg);
}

/** secretbox(nonce‖ct) of plaintext under key. */
export function boxWithKey(plaintext: Uint8Array, key: Uint8Array, sodium: Sodium): Uint8Array {
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  const ct = sodium.crypto_secretbox_easy(plaintext, nonce, key);
  const out = new Uint8Array(nonce.length + ct.length);
  out.set(nonce, 0);
  out.set(ct, nonce.length);
  return out;
}

/** Opens boxWithKey's output; null when the key is wrong. */
export function openWithKey(boxed: Uint8Array, key: Uint8Array, sodium: Sodium): Uint8Array | null {
  const n = sodium.crypto_secretbox_NONCEBYTES;
  try {
    return sodium.crypto_secretbox_open_easy(boxed.subarray(n), boxed.subarray(0, n), key);
  } catch {
    return null;
  }
}
