import { createHash, createPublicKey, hash, verify, type KeyObject } from 'node:crypto';
import { ENTRY_SIGNATURE_DOMAIN } from '../journal/entry-types';
import type { EntrySignature } from '../journal/entry';
import type { JournalPrimitives } from '../journal/primitives';

/**
 * The journal's primitives on node:crypto: OpenSSL's SHA-256 and Ed25519 compute exactly what
 * libsodium does (test/unit/journal-primitives.test.ts checks both agree), without wasm calls and
 * copies. Loaded by the main process and by the verify workers (no wasm, no TypeScript loader).
 */

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const DOMAIN = Buffer.from(ENTRY_SIGNATURE_DOMAIN, 'utf8');
const HEX = /^[0-9a-f]*$/;
/** Public keys seen so far; a journal has a handful (device, custodians), never one per entry. */
const keys = new Map<string, KeyObject | null>();

function publicKey(hex: string): KeyObject | null {
  let key = keys.get(hex);
  if (key === undefined) {
    try {
      key = hex.length === 64 && HEX.test(hex) ? createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' }) : null;
    } catch {
      key = null;
    }
    if (keys.size < 10_000) keys.set(hex, key);
  }
  return key;
}

/** One entry signature over the entry hash (hex), with a cached KeyObject per public key; false on malformed input. */
export function nativeEntrySignatureValid(hashHex: string, sig: Partial<EntrySignature> | null): boolean {
  if (sig === null || typeof sig.key !== 'string' || typeof sig.sig !== 'string' || sig.sig.length !== 128 || !HEX.test(sig.sig) || hashHex.length !== 64 || !HEX.test(hashHex)) return false;
  const key = publicKey(sig.key);
  if (key === null) return false;
  try {
    return verify(null, Buffer.concat([DOMAIN, Buffer.from(hashHex, 'hex')]), key, Buffer.from(sig.sig, 'hex'));
  } catch {
    return false;
  }
}

/** The journal primitives on node:crypto. */
export const nativePrimitives: JournalPrimitives = {
  // crypto.hash: one call, no Hash object per digest (the Merkle frontier makes two per entry).
  sha256: (data) => hash('sha256', data, 'buffer'),
  textDigest: () => {
    const hash = createHash('sha256');
    return { update: (text) => void hash.update(text, 'utf8'), hex: () => hash.digest('hex') };
  },
  verifyEntrySignature: nativeEntrySignatureValid,
};
