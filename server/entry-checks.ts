import { hash } from 'node:crypto';
import { canonicalBodyText, canonicalEntryTexts, type SignedEntry } from '../shared/journal/entry';
import { isWellFormedEntry } from '../shared/journal/entry-shape';
import { MAX_ENTRY_DEPTH, valueDepthExceeds } from '../shared/journal/limits';
import { nativePrimitives } from './native-primitives';

/**
 * One entry's CPU-bound checks: its recomputed hash and each signature's validity, or why it
 * cannot be hashed. `shallow` and `wellFormed` are the journal verifier's first two checks (its
 * nesting within MAX_ENTRY_DEPTH, the entry format), done here so that the signature workers do
 * them in parallel and the verifier on the main thread skips what they passed (PrecomputedChecks);
 * an entry that fails either is checked again by the verifier, which reports why.
 */
export type EntryCheck = HashedEntry | { readonly error: string };
export interface HashedEntry {
  readonly hash: string;
  readonly signatures: readonly boolean[];
  readonly shallow: boolean;
  readonly wellFormed: boolean;
  /** The entry as the server stores and exports it (storedBody), made here too so the main thread does not. */
  readonly body: string;
}

/** `{"entry":` and `,"kind":"entry"}` around an entry in its canonical bundle line (canonicalEntryTexts). */
const LINE_HEAD = '{"entry":'.length;
const LINE_TAIL = ',"kind":"entry"}'.length;

/**
 * The entry as stored and exported: the canonical JSON of the whole signed entry (RFC 8785, its
 * members sorted). It is cut from the entry's canonical bundle line, which is made together with
 * the canonical body that is hashed, so `data` is encoded once for both (readers parse this text
 * and recompute the hash from its fields).
 */
export const storedBody = (e: SignedEntry): string => storedText(canonicalEntryTexts(e).line);
const storedText = (line: string): string => line.slice(LINE_HEAD, line.length - LINE_TAIL);

/**
 * Hashes an entry (canonical JSON, SHA-256) and verifies every signature over that hash, on
 * node:crypto (the same digests and signatures as libsodium; test/unit/journal-primitives.test.ts
 * holds both to agree). Pure CPU work with no state, so the signature pool's workers and the main
 * thread run the same code. The entry's shape (seq, device, a sigs array, a hash string) was
 * checked by the caller.
 */
export function checkEntry(entry: SignedEntry, verifySignatures = true, anchored = false): EntryCheck {
  let digest: string;
  let body: string;
  try {
    const texts = canonicalEntryTexts(entry);
    digest = hash('sha256', texts.body, 'hex');
    body = storedText(texts.line);
  } catch {
    // Something outside the hashed body (in `sigs`) has no canonical form: the entry is still
    // hashed, and the journal verifier says what is wrong with it, as for any malformed entry.
    try {
      digest = hash('sha256', canonicalBodyText(entry), 'hex');
      body = JSON.stringify(entry);
    } catch (error) {
      return { error: error instanceof Error ? error.message : 'not canonical JSON' };
    }
  }
  // Without verifySignatures (an entry the server already holds at its seq: ingest.ts, Offered.hashOnly) only the hash is computed.
  // `anchored`: the entry is covered by a later checkpoint of the same batch whose device signature
  // is verified and whose root is recomputed (ingest.ts, anchored ingest), so its own device
  // signature (sigs[0]) is not verified and stands as valid; every custodian signature still is.
  const signatures = verifySignatures
    ? entry.sigs.map(
        (s, i) => (anchored && i === 0) || (typeof s === 'object' && s !== null && nativePrimitives.verifyEntrySignature(digest, s)),
      )
    : [];
  const shallow = !valueDepthExceeds(entry, MAX_ENTRY_DEPTH);
  return { hash: digest, signatures, shallow, wellFormed: shallow && isWellFormedEntry(entry), body };
}

/**
 * A chunk's checks as the signature workers send them back: every hash in one string (64 hex
 * digits each, in entry order; an entry that cannot be hashed has 64 spaces and its reason in
 * `errors`), every signature's validity in one byte array (the entries' signatures one after
 * another). A structured clone of one string and one array costs the receiving thread far less
 * than an object and an array per entry.
 */
export interface PackedChecks {
  readonly hashes: string;
  readonly valid: Uint8Array;
  /** Per entry: bit 0 shallow, bit 1 wellFormed (0 for an entry that cannot be hashed). */
  readonly flags: Uint8Array;
  /** Every stored body, one after another, and each one's length (0 for an entry that cannot be hashed). */
  readonly bodies: string;
  readonly bodyLengths: Uint32Array;
  readonly errors: readonly (readonly [index: number, reason: string])[];
}

const NO_HASH = ' '.repeat(64);

export function packChecks(checks: readonly EntryCheck[]): PackedChecks {
  let hashes = '';
  const valid: number[] = [];
  const flags = new Uint8Array(checks.length);
  const bodies: string[] = [];
  const bodyLengths = new Uint32Array(checks.length);
  const errors: [number, string][] = [];
  checks.forEach((c, i) => {
    if ('error' in c) {
      hashes += NO_HASH;
      errors.push([i, c.error]);
      return;
    }
    hashes += c.hash;
    flags[i] = (c.shallow ? 1 : 0) | (c.wellFormed ? 2 : 0);
    bodies.push(c.body);
    bodyLengths[i] = c.body.length;
    for (const s of c.signatures) valid.push(s ? 1 : 0);
  });
  return { hashes, valid: Uint8Array.from(valid), flags, bodies: bodies.join(''), bodyLengths, errors };
}

/** The checks of `entries` from their packed form; throws when the shapes disagree (a worker bug, never input). */
export function unpackChecks(entries: readonly SignedEntry[], packed: PackedChecks): EntryCheck[] {
  if (packed.hashes.length !== entries.length * 64)
    throw new Error(`a signature worker answered ${packed.hashes.length / 64} hashes for ${entries.length} entries`);
  if (packed.flags.length !== entries.length)
    throw new Error(`a signature worker answered ${packed.flags.length} shape checks for ${entries.length} entries`);
  if (packed.bodyLengths.length !== entries.length)
    throw new Error(`a signature worker answered ${packed.bodyLengths.length} bodies for ${entries.length} entries`);
  const errors = new Map(packed.errors);
  const out: EntryCheck[] = new Array<EntryCheck>(entries.length);
  let at = 0;
  let bodyAt = 0;
  for (let i = 0; i < entries.length; i++) {
    const error = errors.get(i);
    if (error !== undefined) {
      out[i] = { error };
      continue;
    }
    const count = entries[i]!.sigs.length;
    const signatures = new Array<boolean>(count);
    for (let k = 0; k < count; k++) signatures[k] = packed.valid[at + k] === 1;
    at += count;
    const flags = packed.flags[i]!;
    const body = packed.bodies.slice(bodyAt, bodyAt + packed.bodyLengths[i]!);
    bodyAt += packed.bodyLengths[i]!;
    out[i] = {
      hash: packed.hashes.slice(i * 64, i * 64 + 64),
      signatures,
      shallow: (flags & 1) === 1,
      wellFormed: (flags & 2) === 2,
      body,
    };
  }
  if (at !== packed.valid.length)
    throw new Error(`a signature worker answered ${packed.valid.length} signature checks for ${at} signatures`);
  if (bodyAt !== packed.bodies.length)
    throw new Error(`a signature worker answered ${packed.bodies.length} characters of bodies for ${bodyAt}`);
  return out;
}
