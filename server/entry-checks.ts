import { entryHashBytes, verifyEntrySignature, type SignedEntry } from '../shared/journal/entry';
import type { Sodium } from '../shared/sodium';

/** One entry's CPU-bound checks: its recomputed hash and each signature's validity, or why it cannot be hashed. */
export type EntryCheck = { readonly hash: string; readonly signatures: readonly boolean[] } | { readonly error: string };

/**
 * Hashes an entry (canonical JSON, SHA-256) and verifies every signature over that hash. Pure
 * CPU work with no state, so the signature pool's workers and the main thread run the same code.
 * The entry's shape (seq, device, a sigs array, a hash string) was checked by the caller.
 */
export function checkEntry(entry: SignedEntry, sodium: Sodium): EntryCheck {
  let hash: string;
  try {
    hash = sodium.to_hex(entryHashBytes(entry, sodium));
  } catch (error) {
    return { error: error instanceof Error ? error.message : 'not canonical JSON' };
  }
  const signatures = entry.sigs.map((s) => typeof s === 'object' && s !== null && verifyEntrySignature(hash, s, sodium));
  return { hash, signatures };
}
