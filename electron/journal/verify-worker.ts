import { hash as digest } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { BundleRange } from '../../shared/journal/bundle';
import type { ChainState, VerifyMode } from '../../shared/journal/verifier';
import { verifyRange, type RangePrimitives } from '../../shared/journal/range-verify';
import { nativePrimitives } from '../../server/native-primitives';
import { strictUtf8 } from './strict-utf8';

/**
 * A worker thread of the parallel bundle verifier: verifies whole ranges of bundle lines on its
 * own (shared/journal/range-verify.ts) — decoding, parse, canonical form, hash, chain,
 * checkpoints, and every signature the mode asks for — and hands back a summary the main thread
 * joins. A range arrives as the file's bytes, so the reading thread neither decodes nor copies
 * lines one by one. It uses node:crypto (native SHA-256 and Ed25519, the same algorithms as
 * libsodium) and never loads libsodium: a range that needs it (a two-person entry's proposal
 * signature) comes back null and the main thread verifies it.
 */

export interface RangeRequest {
  readonly id: number;
  /** The range's lines as in the file, each followed by its line feed. */
  readonly bytes: Uint8Array;
  /** Leaves before the range, as the dispatcher expects them. */
  readonly leafOffset: number;
  /** The verifier's state when the range was sent (its key and role tables are what is assumed). */
  readonly context: ChainState;
  readonly mode: VerifyMode;
}
export interface RangeReply {
  readonly id: number;
  readonly range: BundleRange | null;
  /** The request's bytes, transferred back for the main thread to hash (or read line by line) and reuse. */
  readonly bytes: Uint8Array;
}

export const workerPrimitives: RangePrimitives = {
  sha256: nativePrimitives.sha256,
  sha256TextHex: (text) => digest('sha256', text, 'hex'),
  verifyEntrySignature: nativePrimitives.verifyEntrySignature,
};

const LF = 0x0a;

/**
 * The range's lines, each decoded strictly when the verifier reaches it (a line that is not
 * UTF-8 throws, and the range comes back null: the main thread then reads it line by line and
 * reports that line). One line at a time, so the garbage collector never has a whole range of
 * decoded text to keep alive and move.
 */
export function* rangeLines(bytes: Uint8Array): Generator<string> {
  for (let from = 0; from < bytes.length;) {
    const at = bytes.indexOf(LF, from);
    // A range's bytes end with a line feed; anything after the last one is not a line of it.
    if (at < 0) throw new Error('a range ends with a line feed');
    yield strictUtf8(bytes.subarray(from, at));
    from = at + 1;
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (request: RangeRequest) => {
    const { bytes, leafOffset, context, mode } = request;
    const range = verifyRange({ lines: rangeLines(bytes), leafOffset, context, mode }, workerPrimitives);
    const reply: RangeReply = { id: request.id, range, bytes };
    port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
  });
  port.postMessage({ ready: true });
}
