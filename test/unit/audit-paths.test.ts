import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../shared/journal/hex';
import { MerkleFrontier, appendedLeafProofs, type Sha256 } from '../../shared/journal/merkle';
import { StreamedAuditPaths } from '../../shared/sync/audit-paths';

const sha256: Sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());
const leavesOf = (n: number, salt = 0): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => sha256(new TextEncoder().encode(`leaf ${salt} ${i}`)));

interface Wrong {
  line: number;
  count: number;
  lastLine: number;
}

/**
 * Streams a log of `n` leaves through StreamedAuditPaths, each leaf's audit path given as a
 * JSON-like text of 64-character hashes (the export's layout), after `bend` had its way with them.
 * Returns the wrong claims reported, with the line = leaf index + 2 (as in an export after its header).
 */
function run(n: number, bend: (index: number, path: string[]) => string[] = (_i, p) => p): { wrong: Wrong[]; early: number[] } {
  const leaves = leavesOf(n);
  const wrong: Wrong[] = [];
  const early: number[] = [];
  const paths = new StreamedAuditPaths<{ line: number }>(n, (ref, count, lastLine) => wrong.push({ line: ref.line, count, lastLine }));
  const frontier = new MerkleFrontier(sha256);
  // Every leaf's path at once (the server's own code for a batch's receipts).
  const proofs = appendedLeafProofs(0, [], leaves, sha256).proofs;
  for (let i = 0; i < n; i++) {
    const path = bend(
      i,
      proofs[i]!.map((h) => bytesToHex(h)),
    );
    const text = `[${path.map((h) => `"${h}"`).join(',')}]`;
    const offsets = path.map((_h, e) => 2 + e * 67);
    if (!paths.check(i, text, offsets, path.length, { line: i + 2 })) early.push(i + 2);
    frontier.push(leaves[i]!, paths.observe);
  }
  paths.finish(frontier, sha256);
  return { wrong, early };
}

const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

describe('audit paths checked against the rebuilt tree', () => {
  it('accepts every right path in trees of 1 to 70 leaves and some larger ones', () => {
    for (const n of [...Array.from({ length: 70 }, (_, i) => i + 1), 255, 256, 257, 1000, 1023, 1025]) {
      expect(run(n), `n = ${n}`).toEqual({ wrong: [], early: [] });
    }
  });

  it('reports a path with any one hash bent, at its own line, and no other', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.nat(), fc.nat(), (n, seed, pick) => {
        const target = seed % n;
        const length = appendedLeafProofs(0, [], leavesOf(n), sha256).proofs[target]!.length;
        const at = pick % length;
        const { wrong, early } = run(n, (i, p) => (i === target ? p.map((h, e) => (e === at ? flip(h) : h)) : p));
        const reported = [...early, ...wrong.map((w) => w.line)];
        expect(reported).toEqual([target + 2]);
      }),
      { numRuns: 300 },
    );
  });

  it('reports a path one hash too short or too long at once', () => {
    const short = run(37, (i, p) => (i === 5 ? p.slice(0, -1) : p));
    expect(short).toEqual({ wrong: [], early: [7] });
    const long = run(37, (i, p) => (i === 36 ? [...p, p[0]!] : p));
    expect(long).toEqual({ wrong: [], early: [38] });
  });

  it('reports every leaf that names the same wrong node as one claim, with their count', () => {
    // In a tree of 16 leaves, leaves 0..7 all name the root of leaves 8..15 as their last hash.
    const { wrong, early } = run(16, (i, p) => (i < 8 ? [...p.slice(0, -1), flip(p.at(-1)!)] : p));
    expect(early).toEqual([]);
    expect(wrong).toEqual([{ line: 2, count: 8, lastLine: 9 }]);
    // One claimant naming a different hash from the first: each wrong one is reported.
    const mixed = run(16, (i, p) => (i === 3 ? [...p.slice(0, -1), flip(p.at(-1)!)] : p));
    expect(mixed.wrong).toEqual([{ line: 5, count: 1, lastLine: 5 }]);
  });

  it('settles a claim on a subtree cut short by the size only when the file ends complete', () => {
    // 13 leaves: leaves 0..7 name leaves 8..12 (cut short) as their last hash.
    const bent = run(13, (i, p) => (i === 0 ? [...p.slice(0, -1), flip(p.at(-1)!)] : p));
    expect(bent.wrong).toEqual([{ line: 2, count: 1, lastLine: 2 }]);
  });
});
