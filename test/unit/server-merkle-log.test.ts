import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyProof, inclusionProof, merkleRoot, verifyConsistency, verifyInclusion } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { NodeSet, appendLeaves, consistencyProofOf, inclusionProofs, type NodeSource } from '../../server/merkle-log';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/** An in-memory node table that counts reads, standing in for the storage's log_nodes. */
class NodeTable implements NodeSource {
  readonly rows = new Map<number, string>();
  reads = 0;
  async getLogNodes(keys: readonly number[]): Promise<Map<number, string>> {
    this.reads += 1;
    return new Map(keys.filter((k) => this.rows.has(k)).map((k) => [k, this.rows.get(k)!]));
  }
}

async function build(batches: readonly number[]): Promise<{ table: NodeTable; hashes: Uint8Array[]; roots: string[] }> {
  const table = new NodeTable();
  const hashes: Uint8Array[] = [];
  const roots: string[] = [];
  for (const count of batches) {
    const batch = Array.from({ length: count }, (_, i) => sodium.crypto_hash_sha256(sodium.from_string(`leaf ${hashes.length + i}`)));
    const result = await appendLeaves(hashes.length, batch.map((h) => sodium.to_hex(h)), new NodeSet(table));
    for (const n of result.nodes) table.rows.set(n.key, n.hash);
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
      expect(verifyInclusion(i, n, hashes[i]!, proof.map((p) => sodium.from_hex(p)), root, sodium)).toBe(true);
    }
    for (let m = 1; m <= n; m++) {
      const proof = await consistencyProofOf(m, n, new NodeSet(table));
      expect(proof).toEqual(consistencyProof(m, hashes, sodium).map((p) => sodium.to_hex(p)));
      expect(verifyConsistency(m, n, merkleRoot(hashes.slice(0, m), sodium), root, proof.map((p) => sodium.from_hex(p)), sodium)).toBe(true);
    }
  });

  it('answers all inclusion proofs of a batch with one storage read', async () => {
    const { table, hashes } = await build([300]);
    table.reads = 0;
    await inclusionProofs([...hashes.keys()], hashes.length, new NodeSet(table));
    expect(table.reads).toBe(1);
  });
});
