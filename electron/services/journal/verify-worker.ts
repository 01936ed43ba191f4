import { parentPort } from 'node:worker_threads';
import { sodiumReady } from '../../../shared/sodium';
import { entryHashBytes, verifyEntrySignature, type SignedEntry } from '../../../shared/journal/entry';
import type { PrecomputedChecks } from '../../../shared/journal/verifier';

/** A batch of bundle lines to check, and the per-line results (null: not a checkable entry line). */
export interface VerifyBatch {
  readonly id: number;
  readonly lines: readonly string[];
}
export interface VerifyBatchResult {
  readonly id: number;
  readonly results: readonly (PrecomputedChecks | null)[];
}

/**
 * The expensive, independent part of verifying an entry: its hash and its signatures. Anything
 * odd yields null and the main thread's full checks report it.
 */
export function checkLine(line: string): PrecomputedChecks | null {
  try {
    const record = JSON.parse(line) as { kind?: unknown; entry?: SignedEntry };
    if (record.kind !== 'entry' || typeof record.entry !== 'object' || record.entry === null || !Array.isArray(record.entry.sigs)) return null;
    const entry = record.entry;
    const sodium = sodiumNowOrThrow();
    const hash = sodium.to_hex(entryHashBytes(entry, sodium));
    return { hash, signatures: entry.sigs.map((sig) => verifyEntrySignature(entry.hash, sig, sodium)) };
  } catch {
    return null;
  }
}

let loaded: Awaited<ReturnType<typeof sodiumReady>> | null = null;
const sodiumNowOrThrow = (): Awaited<ReturnType<typeof sodiumReady>> => {
  if (loaded === null) throw new Error('libsodium not loaded');
  return loaded;
};

if (parentPort) {
  const port = parentPort;
  loaded = await sodiumReady();
  port.on('message', (batch: VerifyBatch) => {
    const result: VerifyBatchResult = { id: batch.id, results: batch.lines.map(checkLine) };
    port.postMessage(result);
  });
  port.postMessage({ ready: true });
}
