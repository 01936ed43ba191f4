import { beforeAll, describe, expect, it } from 'vitest';
import { inclusionProof, merkleRoot } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import {
  checkpointCosignMessage,
  receiptProblem,
  treeHeadSignatureMessage,
  verifyCheckpointCosignature,
  verifyReceipt,
  type Receipt,
} from '../../shared/sync/receipt';

let sodium: Sodium;
let server: { publicKey: Uint8Array; privateKey: Uint8Array };

beforeAll(async () => {
  sodium = await sodiumReady();
  server = sodium.crypto_sign_keypair();
});

/** A receipt for leaf `index` of a 7-leaf log, signed by the test server key. */
function makeReceipt(index: number): Receipt {
  const leaves = Array.from({ length: 7 }, (_, i) => sodium.crypto_hash_sha256(sodium.from_string(`entry ${i}`)));
  const root = sodium.to_hex(merkleRoot(leaves, sodium));
  const head = { size: leaves.length, root, timestamp: 1_700_000_000_000 };
  const signature = sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(head, sodium), server.privateKey));
  return {
    device: 'ab'.repeat(32),
    seq: index,
    entryHash: sodium.to_hex(leaves[index]!),
    logIndex: index,
    treeHead: { ...head, signature },
    inclusionProof: inclusionProof(index, leaves, sodium).map((p) => sodium.to_hex(p)),
  };
}

describe('verifyReceipt', () => {
  it('accepts a receipt signed by the pinned key whose proof leads to the signed root', () => {
    for (let i = 0; i < 7; i++) expect(receiptProblem(makeReceipt(i), sodium.to_hex(server.publicKey), sodium)).toBeNull();
  });

  it('refuses a receipt under another server key', () => {
    const other = sodium.crypto_sign_keypair();
    expect(receiptProblem(makeReceipt(3), sodium.to_hex(other.publicKey), sodium)).toMatch(/signature does not verify/);
  });

  it('refuses a receipt whose entry hash, proof, index or head was altered', () => {
    const key = sodium.to_hex(server.publicKey);
    const r = makeReceipt(4);
    expect(verifyReceipt({ ...r, entryHash: 'cd'.repeat(32) }, key, sodium)).toBe(false);
    expect(verifyReceipt({ ...r, inclusionProof: [...r.inclusionProof].reverse() }, key, sodium)).toBe(false);
    expect(verifyReceipt({ ...r, logIndex: 5 }, key, sodium)).toBe(false);
    expect(verifyReceipt({ ...r, treeHead: { ...r.treeHead, size: 8 } }, key, sodium)).toBe(false);
    expect(receiptProblem({ ...r, logIndex: 7 }, key, sodium)).toMatch(/outside the signed tree/);
  });

  it('names the field of a malformed receipt', () => {
    expect(receiptProblem({ ...makeReceipt(0), entryHash: 'xyz' }, sodium.to_hex(server.publicKey), sodium)).toMatch(/entryHash/);
  });
});

describe('checkpoint cosignature', () => {
  it('verifies the server signature over a checkpoint hash and nothing else', () => {
    const hash = 'ef'.repeat(32);
    const sig = sodium.to_hex(sodium.crypto_sign_detached(checkpointCosignMessage(hash, sodium), server.privateKey));
    const key = sodium.to_hex(server.publicKey);
    expect(verifyCheckpointCosignature(hash, sig, key, sodium)).toBe(true);
    expect(verifyCheckpointCosignature('ee'.repeat(32), sig, key, sodium)).toBe(false);
  });
});

describe('verified-head cache', () => {
  it('checks a shared head once but never lets a cached head vouch for a different one', () => {
    const key = sodium.to_hex(server.publicKey);
    const heads = new Set<string>();
    expect(receiptProblem(makeReceipt(1), key, sodium, heads)).toBeNull();
    expect(heads.size).toBe(1);
    expect(receiptProblem(makeReceipt(2), key, sodium, heads)).toBeNull();
    expect(heads.size).toBe(1);
    const r = makeReceipt(3);
    expect(receiptProblem({ ...r, treeHead: { ...r.treeHead, signature: 'ab'.repeat(64) } }, key, sodium, heads)).toMatch(
      /signature does not verify/,
    );
  });
});
