import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { sodiumReady } from '../../shared/sodium';
import { nativePrimitives } from '../../server/native-primitives';
import { BundleVerifier, type BundleReport, type BundleVerifyOptions } from '../../shared/journal/bundle';

/**
 * Lines of a text file without their line feeds, streamed with backpressure: the next chunk is
 * read only when the consumer has taken the lines of the last one, so memory stays flat however
 * slow the consumer (readline's iterator buffers lines without bound). A last line without a
 * line feed is yielded too, and `end.unterminated` (when given) is then set.
 */
export async function* fileLines(path: string, end?: { unterminated: boolean }): AsyncIterable<string> {
  let carry = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const text = carry + (chunk as string);
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    for (const line of parts) yield line;
  }
  if (carry.length > 0) {
    if (end) end.unterminated = true;
    yield carry;
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
