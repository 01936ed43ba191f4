import { hash as digest } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { canonicalEntryTexts, type SignedEntry } from '../../shared/journal/entry';
import type { PrecomputedChecks } from '../../shared/journal/verifier';
import { nativePrimitives } from '../../server/native-primitives';

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

/**
 * Hash and signature checks of one bundle line, and whether the line is exactly the canonical
 * JSON of its record (one encoding serves both); null when it is not an entry line or cannot be
 * encoded at all (the main thread then checks and reports it).
 */
export function checkLine(line: string): PrecomputedChecks | null {
  try {
    const record = JSON.parse(line) as { kind?: unknown; entry?: SignedEntry };
    const e = record.entry;
    if (record.kind !== 'entry' || typeof e !== 'object' || e === null || !Array.isArray(e.sigs)) return null;
    const texts = canonicalEntryTexts(e);
    const hash = digest('sha256', Buffer.from(texts.body, 'utf8'), 'hex');
    return {
      hash,
      signatures: e.sigs.map((sig) =>
        nativePrimitives.verifyEntrySignature(typeof e.hash === 'string' ? e.hash : '', typeof sig === 'object' ? sig : null),
      ),
      canonical: texts.line === line,
    };
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
