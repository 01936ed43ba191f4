import { hash as digest } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { BundleRange } from '../../shared/journal/bundle';
import { verifyRange, type RangePrimitives, type RangeTask } from '../../shared/journal/range-verify';
import { nativePrimitives } from '../../server/native-primitives';

/**
 * A worker thread of the parallel bundle verifier: verifies whole ranges of bundle lines on its
 * own (shared/journal/range-verify.ts) — parse, canonical form, hash, chain, checkpoints, and
 * every signature the mode asks for — and hands back a summary the main thread joins. It uses
 * node:crypto (native SHA-256 and Ed25519, the same algorithms as libsodium) and never loads
 * libsodium: a range that needs it (a two-person entry's proposal signature) comes back null and
 * the main thread verifies it.
 */

export interface RangeRequest {
  readonly id: number;
  readonly task: RangeTask;
}
export interface RangeReply {
  readonly id: number;
  readonly range: BundleRange | null;
}

export const workerPrimitives: RangePrimitives = {
  sha256: nativePrimitives.sha256,
  sha256TextHex: (text) => digest('sha256', text, 'hex'),
  verifyEntrySignature: nativePrimitives.verifyEntrySignature,
};

if (parentPort) {
  const port = parentPort;
  port.on('message', (request: RangeRequest) => {
    const reply: RangeReply = { id: request.id, range: verifyRange(request.task, workerPrimitives) };
    port.postMessage(reply);
  });
  port.postMessage({ ready: true });
}
