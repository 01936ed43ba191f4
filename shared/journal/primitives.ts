import type { Sodium } from '../sodium';
import { verifyEntrySignature, type EntrySignature } from './entry';
import type { Sha256 } from './merkle';

/**
 * The hash and signature primitives the journal verifiers call per entry. shared/ stays pure and
 * defaults to libsodium; the Node side injects node:crypto (the same SHA-256 and Ed25519, native
 * instead of wasm), which is where verification spends its time.
 */
export interface JournalPrimitives {
  /** One-shot SHA-256; returns a fresh array. */
  readonly sha256: Sha256;
  /** A fresh incremental SHA-256 over UTF-8 text. */
  readonly textDigest: () => TextDigest;
  /** One entry signature over the entry hash (hex); false on any malformed input. */
  readonly verifyEntrySignature: (hashHex: string, signature: EntrySignature) => boolean;
}

/** Incremental SHA-256 over text, hex digest at the end. */
export interface TextDigest {
  update(text: string): void;
  hex(): string;
}

/** The libsodium implementation (any JS runtime). */
export function sodiumPrimitives(sodium: Sodium): JournalPrimitives {
  return {
    sha256: (data) => sodium.crypto_hash_sha256(data),
    textDigest: () => {
      const state = sodium.crypto_hash_sha256_init();
      return {
        update: (text) => sodium.crypto_hash_sha256_update(state, sodium.from_string(text)),
        hex: () => sodium.to_hex(sodium.crypto_hash_sha256_final(state)),
      };
    },
    verifyEntrySignature: (hashHex, signature) => verifyEntrySignature(hashHex, signature, sodium),
  };
}

const HEX_DIGITS = '0123456789abcdef';
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4]! + HEX_DIGITS[i & 15]!);

/** Lowercase hex of bytes (a table lookup per byte: hot in the verifiers, and libsodium's goes through wasm). */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i]!]!;
  return out;
}

/** Value of one lowercase hex digit's char code. */
const nibble = (code: number): number => (code <= 57 ? code - 48 : code - 87);

/** Bytes of a lowercase hex string the caller has already checked (no slicing or parsing per byte). */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new RangeError('not lowercase hex of whole bytes');
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (nibble(hex.charCodeAt(i * 2)) << 4) | nibble(hex.charCodeAt(i * 2 + 1));
  return out;
}
