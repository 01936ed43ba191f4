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

/**
 * A range to verify: the RangeTask, its lines sent as one text joined by line feeds (no line
 * holds one). One string is copied across in one piece and, being large, is allocated outside
 * the worker's young generation, so the scavenges that follow each line's garbage never copy the
 * range's lines; the lines split from it are slices of it.
 */
export interface RangeRequest {
  readonly id: number;
  readonly text: string;
  readonly task: Omit<RangeTask, 'lines'>;
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
    const task: RangeTask = { ...request.task, lines: request.text.split('\n') };
    const reply: RangeReply = { id: request.id, range: verifyRange(task, workerPrimitives) };
    port.postMessage(reply);
  });
  port.postMessage({ ready: true });
}
