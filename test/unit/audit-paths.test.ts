import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../shared/journal/hex';
import { MerkleFrontier, appendedLeafProofs, perfectSubtrees, type Sha256 } from '../../shared/journal/merkle';
import { AlignedFrontier, StreamedAuditPaths } from '../../shared/sync/audit-paths';

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

describe('the tree rebuilt in ranges (AlignedFrontier) and audit paths checked inside a range', () => {
  const rootOf = (leaves: readonly Uint8Array[]): string => {
    const f = new MerkleFrontier(sha256);
    for (const l of leaves) f.push(l);
    return bytesToHex(f.root());
  };

  it('builds, from any first leaf, exactly the perfect subtrees of the whole tree, and joined in order they give its root', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 8 }),
        (n, sizes) => {
          const leaves = leavesOf(n, 3);
          const whole = new AlignedFrontier(0, sha256);
          for (let start = 0, k = 0; start < n; k++) {
            const end = Math.min(n, start + sizes[k % sizes.length]!);
            const range = new AlignedFrontier(start, sha256);
            for (let i = start; i < end; i++) range.push(leaves[i]!);
            const pieces = range.pieces();
            expect(pieces.map((p) => [p.first, p.width])).toEqual(perfectSubtrees(start, end));
            for (const p of pieces) expect(bytesToHex(p.hash)).toBe(rootOf(leaves.slice(p.first, p.first + p.width)));
            for (const p of pieces) whole.pushPiece(p.first, p.width, p.hash);
            start = end;
          }
          expect(bytesToHex(whole.root())).toBe(rootOf(leaves));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a piece that is not where the leaves end or not aligned to its width', () => {
    const f = new AlignedFrontier(4, sha256);
    expect(() => f.pushPiece(5, 1, new Uint8Array(32))).toThrow(RangeError);
    expect(() => f.pushPiece(4, 8, new Uint8Array(32))).toThrow(RangeError);
  });

  it('hands every claim on a node it cannot settle to `outside`, each naming exactly that node of the whole tree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.nat(), fc.integer({ min: 1, max: 60 }), (n, at, length) => {
        const leaves = leavesOf(n, 5);
        const start = at % n;
        const end = Math.min(n, start + length);
        const proofs = appendedLeafProofs(0, [], leaves, sha256).proofs;
        const outside: { first: number; end: number; value: string }[] = [];
        const wrong: number[] = [];
        const paths = new StreamedAuditPaths<{ line: number }>(n, (ref) => wrong.push(ref.line), {
          start,
          outside: (first, last, value) => outside.push({ first, end: last, value }),
        });
        const frontier = new AlignedFrontier(start, sha256);
        for (let i = start; i < end; i++) {
          const path = proofs[i]!.map((h) => bytesToHex(h));
          const text = `[${path.map((h) => `"${h}"`).join(',')}]`;
          expect(
            paths.check(
              i,
              text,
              path.map((_h, e) => 2 + e * 67),
              path.length,
              { line: i },
            ),
          ).toBe(true);
          frontier.push(leaves[i]!, paths.observe);
        }
        paths.release();
        expect(wrong).toEqual([]);
        for (const c of outside) {
          // Outside the range, or cut short by the size (those the whole tree settles when the file ends).
          expect(c.first < start || c.end > end || c.end === n).toBe(true);
          expect(c.value).toBe(rootOf(leaves.slice(c.first, c.end)));
        }
      }),
      { numRuns: 200 },
    );
  });
});
