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
  /** A fresh incremental SHA-256 over UTF-8 text (or bytes already in UTF-8). */
  readonly textDigest: () => TextDigest;
  /** One entry signature over the entry hash (hex); false on any malformed input. */
  readonly verifyEntrySignature: (hashHex: string, signature: EntrySignature) => boolean;
}

/** Incremental SHA-256 over text (its UTF-8 bytes) or bytes, hex digest at the end. */
export interface TextDigest {
  update(text: string | Uint8Array): void;
  hex(): string;
}

/** The libsodium implementation (any JS runtime). */
export function sodiumPrimitives(sodium: Sodium): JournalPrimitives {
  return {
    sha256: (data) => sodium.crypto_hash_sha256(data),
    textDigest: () => {
      const state = sodium.crypto_hash_sha256_init();
      return {
        update: (text) => sodium.crypto_hash_sha256_update(state, typeof text === 'string' ? sodium.from_string(text) : text),
        hex: () => sodium.to_hex(sodium.crypto_hash_sha256_final(state)),
      };
    },
    verifyEntrySignature: (hashHex, signature) => verifyEntrySignature(hashHex, signature, sodium),
  };
}
