import { hash } from 'node:crypto';
import { canonicalBodyText, type SignedEntry } from '../shared/journal/entry';
import { nativePrimitives } from './native-primitives';

/** One entry's CPU-bound checks: its recomputed hash and each signature's validity, or why it cannot be hashed. */
export type EntryCheck = { readonly hash: string; readonly signatures: readonly boolean[] } | { readonly error: string };

/**
 * Hashes an entry (canonical JSON, SHA-256) and verifies every signature over that hash, on
 * node:crypto (the same digests and signatures as libsodium; test/unit/journal-primitives.test.ts
 * holds both to agree). Pure CPU work with no state, so the signature pool's workers and the main
 * thread run the same code. The entry's shape (seq, device, a sigs array, a hash string) was
 * checked by the caller.
 */
export function checkEntry(entry: SignedEntry): EntryCheck {
  let digest: string;
  try {
    digest = hash('sha256', canonicalBodyText(entry), 'hex');
  } catch (error) {
    return { error: error instanceof Error ? error.message : 'not canonical JSON' };
  }
  const signatures = entry.sigs.map((s) => typeof s === 'object' && s !== null && nativePrimitives.verifyEntrySignature(digest, s));
  return { hash: digest, signatures };
}
