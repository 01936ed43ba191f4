import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { canonicalize } from '../../../shared/journal/canonical';
import type { SignedEntry } from '../../../shared/journal/entry';
import { ENTRY_SIGNATURE_DOMAIN } from '../../../shared/journal/entry-types';
import type { PrecomputedChecks } from '../../../shared/journal/verifier';

/**
 * The expensive, independent part of verifying entries, run in worker threads: each entry's hash
 * and each signature. It uses node:crypto (native SHA-256 and Ed25519, the same algorithms as
 * libsodium) so a worker stays small: no wasm, no TypeScript loader.
 */

/** A batch of bundle lines to check, and the per-line results (null: not a checkable entry line). */
export interface VerifyBatch {
  readonly id: number;
  readonly lines: readonly string[];
}
export interface VerifyBatchResult {
  readonly id: number;
  readonly results: readonly (PrecomputedChecks | null)[];
}

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

function signatureValid(hashHex: string, sig: { key?: unknown; sig?: unknown }): boolean {
  if (typeof sig.key !== 'string' || typeof sig.sig !== 'string' || sig.sig.length !== 128 || !HEX.test(sig.sig) || hashHex.length !== 64 || !HEX.test(hashHex)) return false;
  const key = publicKey(sig.key);
  if (key === null) return false;
  try {
    return verify(null, Buffer.concat([DOMAIN, Buffer.from(hashHex, 'hex')]), key, Buffer.from(sig.sig, 'hex'));
  } catch {
    return false;
  }
}

/** Hash and signature checks of one bundle line; null when it is not an entry line (the main thread reports it). */
export function checkLine(line: string): PrecomputedChecks | null {
  try {
    const record = JSON.parse(line) as { kind?: unknown; entry?: SignedEntry };
    const e = record.entry;
    if (record.kind !== 'entry' || typeof e !== 'object' || e === null || !Array.isArray(e.sigs)) return null;
    const body = { v: e.v, vault: e.vault, device: e.device, seq: e.seq, prev: e.prev, time: e.time, type: e.type, actor: e.actor, data: e.data };
    const hash = createHash('sha256').update(canonicalize(body), 'utf8').digest('hex');
    return { hash, signatures: e.sigs.map((sig) => signatureValid(typeof e.hash === 'string' ? e.hash : '', sig)) };
  } catch {
    return null;
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (batch: VerifyBatch) => {
    const result: VerifyBatchResult = { id: batch.id, results: batch.lines.map(checkLine) };
    port.postMessage(result);
  });
  port.postMessage({ ready: true });
}
