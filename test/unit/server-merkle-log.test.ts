import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appendedLeafProofs,
  consistencyProof,
  frontierRoot,
  inclusionProof,
  merkleRoot,
  verifyConsistency,
  verifyInclusion,
} from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { NodeSet, appendLeaves, consistencyProofOf, inclusionProofs, type NodeSource } from '../../server/merkle-log';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/** In-memory stand-ins for the storage's log_nodes (interior nodes) and entries (hash by log index), counting reads. */
class NodeTable implements NodeSource {
  readonly rows = new Map<number, string>();
  readonly entryHashes = new Map<number, string>();
  reads = 0;
  async getLogNodes(keys: readonly number[]): Promise<Map<number, string>> {
    this.reads += 1;
    return new Map(keys.filter((k) => this.rows.has(k)).map((k) => [k, this.rows.get(k)!]));
  }
  async entryHashesAt(indexes: readonly number[]): Promise<Map<number, string>> {
    this.reads += 1;
    return new Map(indexes.filter((i) => this.entryHashes.has(i)).map((i) => [i, this.entryHashes.get(i)!]));
  }
}

async function build(batches: readonly number[]): Promise<{ table: NodeTable; hashes: Uint8Array[]; roots: string[] }> {
  const table = new NodeTable();
  const hashes: Uint8Array[] = [];
  const roots: string[] = [];
  for (const count of batches) {
    const batch = Array.from({ length: count }, (_, i) => sodium.crypto_hash_sha256(sodium.from_string(`leaf ${hashes.length + i}`)));
    const result = await appendLeaves(
      hashes.length,
      batch.map((h) => sodium.to_hex(h)),
      new NodeSet(table),
    );
    for (const n of result.nodes) table.rows.set(n.key, n.hash);
    batch.forEach((h, i) => table.entryHashes.set(hashes.length + i, sodium.to_hex(h)));
    hashes.push(...batch);
    roots.push(result.root);
  }
  return { table, hashes, roots };
}

describe('server Merkle log (stored perfect subtrees)', () => {
  it('appends in batches to the same root as the reference tree', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }), async (batches) => {
        const { hashes, roots } = await build(batches);
        let size = 0;
        batches.forEach((count, i) => {
          size += count;
          expect(roots[i]).toBe(sodium.to_hex(merkleRoot(hashes.slice(0, size), sodium)));
        });
      }),
      { numRuns: 40 },
    );
  });

  it('produces the reference inclusion and consistency proofs, which verify', async () => {
    const { table, hashes } = await build([5, 1, 7, 3, 16]);
    const n = hashes.length;
    const root = merkleRoot(hashes, sodium);
    const proofs = await inclusionProofs([...hashes.keys()], n, new NodeSet(table));
    for (let i = 0; i < n; i++) {
      const proof = proofs.get(i)!;
      expect(proof).toEqual(inclusionProof(i, hashes, sodium).map((p) => sodium.to_hex(p)));
      expect(
        verifyInclusion(
          i,
          n,
          hashes[i]!,
          proof.map((p) => sodium.from_hex(p)),
          root,
          sodium,
        ),
      ).toBe(true);
    }
    for (let m = 1; m <= n; m++) {
      const proof = await consistencyProofOf(m, n, new NodeSet(table));
      expect(proof).toEqual(consistencyProof(m, hashes, sodium).map((p) => sodium.to_hex(p)));
      expect(
        verifyConsistency(
          m,
          n,
          merkleRoot(hashes.slice(0, m), sodium),
          root,
          proof.map((p) => sodium.from_hex(p)),
          sodium,
        ),
      ).toBe(true);
    }
  });

  it('answers all inclusion proofs of a batch with two storage reads (interior nodes, then leaf entries)', async () => {
    const { table, hashes } = await build([300]);
    table.reads = 0;
    await inclusionProofs([...hashes.keys()], hashes.length, new NodeSet(table));
    expect(table.reads).toBe(2);
  });

  it('stores interior nodes only: leaves come from the entry hashes, and a missing entry is named', async () => {
    const { table, hashes } = await build([6, 10, 1]);
    expect(table.rows.size).toBeGreaterThan(0);
    expect([...table.rows.keys()].filter((k) => k % 64 === 0)).toEqual([]);
    // Proofs that need leaves read them from the entries: change one entry hash and the proofs built on it change.
    const before = await inclusionProofs([0, 5, 16], hashes.length, new NodeSet(table));
    expect(before.get(0)![0]).toBe(sodium.to_hex(inclusionProof(0, hashes, sodium)[0]!));
    table.entryHashes.set(1, sodium.to_hex(sodium.crypto_hash_sha256(sodium.from_string('not leaf 1'))));
    const after = await inclusionProofs([0], hashes.length, new NodeSet(table));
    expect(after.get(0)![0]).not.toBe(before.get(0)![0]);
    table.entryHashes.delete(16);
    await expect(inclusionProofs([0], hashes.length, new NodeSet(table))).rejects.toThrow(/log node 16 at level 0 is missing/);
  });
});

describe('appendedLeafProofs (a client deriving its receipts from the frontier before its batch)', () => {
  const sha256 = (data: Uint8Array): Uint8Array => sodium.crypto_hash_sha256(data);
  const leaves = (from: number, n: number): Uint8Array[] =>
    Array.from({ length: n }, (_, i) => sodium.crypto_hash_sha256(sodium.from_string(`leaf ${from + i}`)));
  /** The frontier the server sends: its stored perfect subtrees over the first `start` leaves. */
  const frontierOf = (all: readonly Uint8Array[], start: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    let at = 0;
    for (let width = 2 ** 20; width >= 1; width /= 2) {
      if (at + width > start) continue;
      out.push(merkleRoot(all.slice(at, at + width), sodium));
      at += width;
    }
    return out;
  };

  it('gives the root and the RFC 6962 audit path of every appended leaf, for any log size before the batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 70 }), (start, count) => {
        const all = leaves(0, start + count);
        const { root, proofs } = appendedLeafProofs(start, frontierOf(all, start), all.slice(start), sha256);
        expect(sodium.to_hex(root)).toBe(sodium.to_hex(merkleRoot(all, sodium)));
        proofs.forEach((proof, i) =>
          expect(proof.map((p) => sodium.to_hex(p))).toEqual(inclusionProof(start + i, all, sodium).map((p) => sodium.to_hex(p))),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('matches what the server stores for the same appends (its frontier nodes and proofs)', async () => {
    const { table, hashes } = await build([5, 9, 1, 22]);
    expect(hashes.length).toBe(37); // 32 + 4 + 1: three frontier subtrees
    const extra = leaves(hashes.length, 11);
    const appended = await appendLeaves(
      hashes.length,
      extra.map((h) => sodium.to_hex(h)),
      new NodeSet(table),
    );
    for (const n of appended.nodes) table.rows.set(n.key, n.hash);
    extra.forEach((h, i) => table.entryHashes.set(hashes.length + i, sodium.to_hex(h)));
    const nodes = new NodeSet(table);
    const indices = extra.map((_, i) => hashes.length + i);
    const server = await inclusionProofs(indices, appended.size, nodes);
    const frontier = frontierOf([...hashes, ...extra], hashes.length);
    const derived = appendedLeafProofs(hashes.length, frontier, extra, sha256);
    expect(sodium.to_hex(derived.root)).toBe(appended.root);
    indices.forEach((index, i) => expect(derived.proofs[i]!.map((p) => sodium.to_hex(p))).toEqual(server.get(index)));
  });

  it('refuses a frontier of the wrong shape, and a changed frontier node changes the root', () => {
    const all = leaves(0, 21);
    const frontier = frontierOf(all, 13); // 13 = 8 + 4 + 1: three subtrees
    expect(frontier).toHaveLength(3);
    expect(() => appendedLeafProofs(13, frontier.slice(0, 2), all.slice(13), sha256)).toThrow(/needs a 32-byte root for leaves 12\.\.12/);
    expect(() => appendedLeafProofs(13, [...frontier, frontier[0]!], all.slice(13), sha256)).toThrow(/has 3 subtree roots, not 4/);
    expect(() => appendedLeafProofs(13, [frontier[0]!, frontier[1]!.slice(1), frontier[2]!], all.slice(13), sha256)).toThrow(
      /32-byte root for leaves 8\.\.11/,
    );
    expect(() => appendedLeafProofs(13, frontier, [], sha256)).toThrow(/no leaves/);
    const changed = frontier.map((h, i) => (i === 1 ? sha256(h) : h));
    expect(sodium.to_hex(appendedLeafProofs(13, changed, all.slice(13), sha256).root)).not.toBe(sodium.to_hex(merkleRoot(all, sodium)));
  });

  it('frontierRoot: the frontier of any tree folds to that tree’s RFC 6962 root; a changed node or a wrong shape does not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), (size) => {
        const all = leaves(0, size);
        const frontier = frontierOf(all, size);
        expect(sodium.to_hex(frontierRoot(size, frontier, sha256))).toBe(sodium.to_hex(merkleRoot(all, sodium)));
        const changed = frontier.map((h, i) => (i === frontier.length - 1 ? sha256(h) : h));
        expect(sodium.to_hex(frontierRoot(size, changed, sha256))).not.toBe(sodium.to_hex(merkleRoot(all, sodium)));
      }),
      { numRuns: 150 },
    );
    const frontier = frontierOf(leaves(0, 13), 13);
    expect(() => frontierRoot(13, frontier.slice(0, 2), sha256)).toThrow(/tree of 13 leaves needs a 32-byte root for leaves 12\.\.12/);
    expect(() => frontierRoot(0, [], sha256)).toThrow(RangeError);
    expect(() => frontierRoot(13, [frontier[0]!, frontier[1]!.slice(1), frontier[2]!], sha256)).toThrow(/32-byte/);
  });
});
