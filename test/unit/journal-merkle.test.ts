import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MerkleFrontier,
  appendedLeafProofs,
  consistencyProof,
  consistencyRanges,
  emptyRoot,
  foldSubtrees,
  frontierRoot,
  inclusionProof,
  inclusionRanges,
  leafHash,
  merkleRoot,
  nodeHash,
  perfectSubtrees,
  verifyConsistency,
  verifyInclusion,
  type Sha256,
} from '../../shared/journal/merkle';
import { nativePrimitives } from '../../server/native-primitives';
import { sodiumReady, type Sodium } from '../../shared/sodium';

let sodium: Sodium;
let lib: Sha256;
const native: Sha256 = nativePrimitives.sha256;
beforeAll(async () => {
  sodium = await sodiumReady();
  lib = (data) => sodium.crypto_hash_sha256(data);
});

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const hexes = (list: readonly Uint8Array[]): string[] => list.map(hex);

/**
 * The test's oracle: MTH, PATH and PROOF exactly as RFC 6962 section 2.1 defines them, recursive
 * over slices, on libsodium. Not an implementation anything runs: the one in
 * shared/journal/merkle.ts (what the journal, the sync client and the server's log use) must give
 * the same hashes and proofs.
 */
const rfc = {
  mth(d: readonly Uint8Array[]): Uint8Array {
    const h = (...parts: Uint8Array[]): Uint8Array => sodium.crypto_hash_sha256(Buffer.concat(parts));
    if (d.length === 0) return h();
    if (d.length === 1) return h(Uint8Array.of(0), d[0]!);
    const k = 2 ** Math.ceil(Math.log2(d.length) - 1);
    return h(Uint8Array.of(1), rfc.mth(d.slice(0, k)), rfc.mth(d.slice(k)));
  },
  path(m: number, d: readonly Uint8Array[]): Uint8Array[] {
    if (d.length === 1) return [];
    const k = 2 ** Math.ceil(Math.log2(d.length) - 1);
    return m < k ? [...rfc.path(m, d.slice(0, k)), rfc.mth(d.slice(k))] : [...rfc.path(m - k, d.slice(k)), rfc.mth(d.slice(0, k))];
  },
  subproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
    if (m === d.length) return b ? [] : [rfc.mth(d)];
    const k = 2 ** Math.ceil(Math.log2(d.length) - 1);
    return m <= k
      ? [...rfc.subproof(m, d.slice(0, k), b), rfc.mth(d.slice(k))]
      : [...rfc.subproof(m - k, d.slice(k), false), rfc.mth(d.slice(0, k))];
  },
};

const leavesOf = (n: number, salt = 0): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => sodium.crypto_hash_sha256(sodium.from_string(`leaf ${salt}:${i}`)));

describe('RFC 6962 tree (shared/journal/merkle.ts)', () => {
  it('gives the RFC 6962 reference implementation’s roots for its test leaves', () => {
    // The leaves and roots of certificate-transparency's merkle_tree_test (any leaf length is hashed as given).
    const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
      Uint8Array.from(Buffer.from(h, 'hex')),
    );
    const roots = [
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    roots.forEach((root, n) => {
      expect(hex(merkleRoot(leaves.slice(0, n), sodium))).toBe(root);
      expect(hex(merkleRoot(leaves.slice(0, n), native))).toBe(root);
    });
    expect(hex(emptyRoot(native))).toBe(roots[0]);
    expect(hex(leafHash(leaves[0]!, native))).toBe(roots[1]);
    expect(hex(nodeHash(leafHash(leaves[0]!), leafHash(leaves[1]!), native))).toBe(roots[2]);
  });

  it('roots, audit paths and consistency proofs are the RFC’s, on libsodium and on node:crypto alike, and they verify', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.nat(), fc.nat(), fc.integer(), (n, i, j, salt) => {
        const leaves = leavesOf(n, salt);
        const index = i % n;
        const old = (j % n) + 1;
        const root = rfc.mth(leaves);
        for (const hashing of [lib, native, sodium]) {
          expect(hex(merkleRoot(leaves, hashing))).toBe(hex(root));
          const path = inclusionProof(index, leaves, hashing);
          expect(hexes(path)).toEqual(hexes(rfc.path(index, leaves)));
          expect(verifyInclusion(index, n, leaves[index]!, path, root, hashing)).toBe(true);
          const proof = consistencyProof(old, leaves, hashing);
          expect(hexes(proof)).toEqual(hexes(rfc.subproof(old, leaves, true)));
          expect(verifyConsistency(old, n, rfc.mth(leaves.slice(0, old)), root, proof, hashing)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a proof with any byte changed, another leaf’s index or another root', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), fc.nat(), fc.nat(), (n, i, j, at) => {
        const leaves = leavesOf(n);
        const index = i % n;
        const old = (j % (n - 1)) + 1; // strictly smaller: a proof with something in it
        const root = merkleRoot(leaves, native);
        const oldRoot = merkleRoot(leaves.slice(0, old), native);
        const flip = (proof: Uint8Array[]): Uint8Array[] => {
          const k = at % proof.length;
          return proof.map((p, x) => (x === k ? p.map((b, y) => (y === at % 32 ? b ^ 1 : b)) : p));
        };
        const path = inclusionProof(index, leaves, native);
        if (path.length > 0) expect(verifyInclusion(index, n, leaves[index]!, flip(path), root, native)).toBe(false);
        expect(verifyInclusion((index + 1) % n, n, leaves[index]!, path, root, native)).toBe(false);
        expect(verifyInclusion(index, n, leaves[index]!, path, oldRoot, native)).toBe(false);
        const proof = consistencyProof(old, leaves, native);
        if (proof.length > 0) expect(verifyConsistency(old, n, oldRoot, root, flip(proof), native)).toBe(false);
        expect(verifyConsistency(old, n, oldRoot, oldRoot, proof, native)).toBe(false);
      }),
      { numRuns: 150 },
    );
    expect(verifyInclusion(0, 0, leavesOf(1)[0]!, [], emptyRoot(native), native)).toBe(false);
    expect(verifyConsistency(0, 1, emptyRoot(native), emptyRoot(native), [], native)).toBe(false);
    expect(() => inclusionProof(3, leavesOf(3), native)).toThrow(/leaf 3 is outside a tree of 3/);
    expect(() => consistencyProof(0, leavesOf(3), native)).toThrow(/old size 0 is outside 1\.\.3/);
    expect(() => inclusionRanges(-1, 3)).toThrow(RangeError);
    expect(() => consistencyRanges(4, 3)).toThrow(RangeError);
  });

  it('every range a proof names folds from its perfect subtrees to its tree hash', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.nat(), (n, i) => {
        const leaves = leavesOf(n);
        const ranges = [...inclusionRanges(i % n, n), ...consistencyRanges((i % n) + 1, n), [0, n] as const];
        for (const [s, e] of ranges) {
          const roots = perfectSubtrees(s, e).map(([first, width]) => rfc.mth(leaves.slice(first, first + width)));
          expect(hex(foldSubtrees(roots, native))).toBe(hex(rfc.mth(leaves.slice(s, e))));
        }
      }),
      { numRuns: 100 },
    );
    expect(() => foldSubtrees([], native)).toThrow(RangeError);
  });
});

describe('MerkleFrontier', () => {
  it('on node:crypto keeps the same roots and snapshots as on libsodium, and resumes from either', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 80 }), (n, more) => {
        const leaves = leavesOf(n + more);
        const a = new MerkleFrontier(sodium);
        const b = new MerkleFrontier(native);
        for (const h of leaves.slice(0, n)) {
          a.push(h);
          b.push(h);
        }
        expect(b.snapshot()).toEqual(a.snapshot());
        expect(hex(b.root())).toBe(hex(rfc.mth(leaves.slice(0, n))));
        const resumed = [MerkleFrontier.restore(a.snapshot(), native), MerkleFrontier.fromSubtrees(n, b.subtrees(), lib)];
        for (const f of resumed) {
          for (const h of leaves.slice(n)) f.push(h);
          expect(f.size).toBe(n + more);
          expect(hex(f.root())).toBe(hex(rfc.mth(leaves)));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('reports each leaf and each perfect subtree it completes, once, with its tree hash', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 60 }), (start, count) => {
        const leaves = leavesOf(start + count);
        const f = MerkleFrontier.fromSubtrees(
          start,
          perfectSubtrees(0, start).map(([first, width]) => rfc.mth(leaves.slice(first, first + width))),
          native,
        );
        const seen = new Map<string, string>();
        for (const h of leaves.slice(start)) {
          f.push(h, (first, width, hash) => {
            expect(seen.has(`${first}:${width}`)).toBe(false);
            seen.set(`${first}:${width}`, hex(hash));
          });
        }
        // Exactly the aligned perfect subtrees that end inside the appended leaves.
        const expected = new Map<string, string>();
        for (let width = 1; width <= start + count; width *= 2) {
          for (let first = 0; first + width <= start + count; first += width) {
            if (first + width > start) expected.set(`${first}:${width}`, hex(rfc.mth(leaves.slice(first, first + width))));
          }
        }
        expect(seen).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses subtree roots of the wrong shape for the size', () => {
    const roots = perfectSubtrees(0, 13).map(([first, width]) => merkleRoot(leavesOf(13).slice(first, first + width), native));
    expect(() => MerkleFrontier.fromSubtrees(13, roots.slice(0, 2), native)).toThrow(
      /tree of 13 leaves needs a 32-byte root for leaves 12\.\.12/,
    );
    expect(() => MerkleFrontier.fromSubtrees(13, [...roots, roots[0]!], native)).toThrow(/has 3 subtree roots, not 4/);
    expect(() => MerkleFrontier.fromSubtrees(-1, [], native)).toThrow(RangeError);
    expect(() => frontierRoot(0, [], native)).toThrow(RangeError);
    expect(hex(MerkleFrontier.fromSubtrees(0, [], native).root())).toBe(hex(emptyRoot(native)));
  });
});

describe('appendedLeafProofs on libsodium and on node:crypto', () => {
  it('gives the same root and paths, the RFC’s', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), fc.integer({ min: 1, max: 30 }), (start, count) => {
        const leaves = leavesOf(start + count);
        const frontier = perfectSubtrees(0, start).map(([first, width]) => rfc.mth(leaves.slice(first, first + width)));
        const a = appendedLeafProofs(start, frontier, leaves.slice(start), sodium);
        const b = appendedLeafProofs(start, frontier, leaves.slice(start), native);
        expect(hex(b.root)).toBe(hex(a.root));
        expect(hex(a.root)).toBe(hex(rfc.mth(leaves)));
        b.proofs.forEach((proof, i) => expect(hexes(proof)).toEqual(hexes(a.proofs[i]!)));
        // Against the oracle: the first and the last appended leaf (the oracle recomputes every subtree).
        for (const i of new Set([0, count - 1])) expect(hexes(b.proofs[i]!)).toEqual(hexes(rfc.path(start + i, leaves)));
        if (start > 0) expect(hex(frontierRoot(start, frontier, native))).toBe(hex(rfc.mth(leaves.slice(0, start))));
      }),
      { numRuns: 50 },
    );
  });
});
