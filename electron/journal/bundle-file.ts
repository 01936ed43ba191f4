import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { sodiumReady } from '../../shared/sodium';
import { nativePrimitives } from '../../server/native-primitives';
import { BundleVerifier, NOT_UTF8_LINE, type BundleReport, type BundleVerifyOptions } from '../../shared/journal/bundle';
import { strictUtf8 } from './strict-utf8';

/**
 * Lines of a text file without their line feeds, streamed with backpressure: the next chunk is
 * read only when the consumer has taken the lines of the last one, so memory stays flat however
 * slow the consumer (readline's iterator buffers lines without bound). A last line without a
 * line feed is yielded too, and `end.unterminated` (when given) is then set. The bytes are decoded
 * strictly: a line that is not UTF-8 is yielded as NOT_UTF8_LINE, never with replacement
 * characters, so what is verified is exactly the file's bytes (a chunk that decodes whole, the
 * usual case, is decoded once; only a failing one is decoded line by line).
 */
export async function* fileLines(path: string, end?: { unterminated: boolean }): AsyncIterable<string> {
  // The bytes after the last line feed so far, in pieces: a line longer than a chunk is joined
  // once, when its end arrives, not copied again with every chunk.
  let carry: Buffer[] = [];
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
    const at = (chunk as Buffer).lastIndexOf(0x0a);
    if (at < 0) {
      carry.push(chunk as Buffer);
      continue;
    }
    const bytes = carry.length === 0 ? (chunk as Buffer) : Buffer.concat([...carry, chunk as Buffer]);
    const last = bytes.length - ((chunk as Buffer).length - at);
    carry = last + 1 < bytes.length ? [bytes.subarray(last + 1)] : [];
    yield* decodedLines(bytes.subarray(0, last));
  }
  if (carry.length > 0) {
    if (end) end.unterminated = true;
    yield* decodedLines(Buffer.concat(carry));
  }
}

/** The lines of `bytes` (split at line feeds), each decoded strictly (NOT_UTF8_LINE for a line that is not UTF-8). */
export function decodedLines(bytes: Uint8Array): string[] {
  try {
    return strictUtf8(bytes).split('\n');
  } catch {
    const out: string[] = [];
    let from = 0;
    for (;;) {
      const at = bytes.indexOf(0x0a, from);
      const line = bytes.subarray(from, at < 0 ? bytes.length : at);
      try {
        out.push(strictUtf8(line));
      } catch {
        out.push(NOT_UTF8_LINE);
      }
      if (at < 0) return out;
      from = at + 1;
    }
  }
}

/** SHA-256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Verifies a bundle file on one core, streaming (memory does not grow with its size). */
export async function verifyBundleFile(path: string, options: BundleVerifyOptions & { csvPath?: string } = {}): Promise<BundleReport> {
  await sodiumReady();
  const csvSha256 = options.csvPath === undefined ? options.csvSha256 : await fileSha256(options.csvPath);
  const verifier = new BundleVerifier({ primitives: nativePrimitives, ...options, csvSha256 });
  const end = { unterminated: false };
  for await (const line of fileLines(path, end)) verifier.pushLine(line);
  return verifier.finish(end);
}
