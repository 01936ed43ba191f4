// The hashing floor the benchmarks scale their figures by (issue 16, item 5): the work no
// verification or ingest of journal entries can skip, measured on one core in the same run as
// the figure it scales. Shared by bench/journal.ts (bundle lines) and bench/server.ts (entries as
// the server receives them).
import { hash as nodeHash } from 'node:crypto';
import { MerkleFrontier } from '../shared/journal/merkle';
import { hexToBytes } from '../shared/journal/hex';
import { nativePrimitives } from '../server/native-primitives';

/** A bundle line (`{"entry":{…}}`): its entry's stated hash. */
export const bundleLineHash = (parsed: unknown): string => (parsed as { entry: { hash: string } }).entry.hash;
/** An entry's JSON as a batch carries it (`{…, "hash": …}`): its stated hash. */
export const entryJsonHash = (parsed: unknown): string => (parsed as { hash: string }).hash;

/**
 * The hashing floor on one core: for each of `lines`, JSON.parse, SHA-256 of the line's UTF-8
 * bytes, and the RFC 6962 leaf and node hashes of its entry hash (a Merkle frontier push).
 * `hashOf` finds the entry hash in the parsed line. Entries per second, best of three passes.
 */
export function hashingFloor(lines: readonly string[], hashOf: (parsed: unknown) => string = bundleLineHash): number {
  let best = 0;
  for (let pass = 0; pass < 3; pass++) {
    const frontier = new MerkleFrontier(nativePrimitives.sha256);
    let sink = 0;
    const start = performance.now();
    for (const line of lines) {
      const parsed = JSON.parse(line) as unknown;
      sink += nodeHash('sha256', line, 'binary').length;
      frontier.push(hexToBytes(hashOf(parsed)));
    }
    const rate = lines.length / ((performance.now() - start) / 1000);
    if (sink === 0) throw new Error('unreachable');
    best = Math.max(best, rate);
  }
  return best;
}
