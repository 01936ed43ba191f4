import { beforeAll, describe, expect, it } from 'vitest';
import { acknowledgementProblems, checkEvidence } from '../../electron/review/review-verify';
import { bytesToHex, hexToBytes } from '../../shared/journal/hex';
import { inclusionProof, merkleRoot } from '../../shared/journal/merkle';
import { signEntry, type SignedEntry } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { treeHeadSignatureMessage, type TreeHead } from '../../shared/sync/receipt';
import { reviewHash, reviewSignatureMessage, type ReviewBody, type SignedReview } from '../../shared/sync/review-wire';
import { seededSigner, TEST_VAULT } from '../support/journal-builder';

// The reviewer client's offline checks (electron/review/review-verify.ts) on answers built with the
// real journal signing, the real Merkle tree and a real Ed25519 server key: what a server sends,
// then the same answer changed in one place at a time. Each change must be reported, in words.

let sodium: Sodium;
const device = seededSigner(1);
const custodian = seededSigner(2);
const server = seededSigner(3);
const reviewer = seededSigner(4);
let entries: SignedEntry[];
let head: TreeHead;
let leaves: Uint8Array[];
let review: SignedReview;

const signHead = (size: number, root: string): TreeHead => {
  const unsigned = { size, root, timestamp: 1_700_000_000_000 };
  return { ...unsigned, signature: bytesToHex(server.sign(treeHeadSignatureMessage(unsigned, sodium))) };
};
const receiptOf = (e: SignedEntry, index: number) => ({
  device: e.device,
  seq: e.seq,
  entryHash: e.hash,
  logIndex: index,
  treeHead: head,
  inclusionProof: inclusionProof(index, leaves, sodium).map(bytesToHex),
});
const evidence = (index: number) => ({ entry: structuredClone(entries[index]!), receipt: receiptOf(entries[index]!, index) });
const check = (raw: { entry: unknown; receipt: unknown }, h: TreeHead | null = head) =>
  checkEvidence(raw, h, server.publicKey, sodium, new Set()).problems;

beforeAll(async () => {
  sodium = await sodiumReady();
  let prev = '0'.repeat(64);
  entries = [];
  for (let seq = 0; seq < 3; seq++) {
    const e = signEntry(
      {
        v: 1,
        vault: TEST_VAULT,
        device: device.publicKey,
        seq,
        prev,
        time: 1_700_000_000_000 + seq,
        type: 'break-glass.opened',
        actor: 'c1',
        data: { session: 's', reason: 'SCP' },
      },
      [device, custodian],
      sodium,
    );
    entries.push(e);
    prev = e.hash;
  }
  const body: ReviewBody = {
    subject: { kind: 'incident', id: entries[0]!.hash },
    finding: 'authorised',
    rotationDone: true,
    text: 'fine',
    reviewer: reviewer.publicKey,
    time: 1_700_000_100_000,
  };
  review = { review: body, signature: bytesToHex(reviewer.sign(reviewSignatureMessage(body))) };
  leaves = [...entries.map((e) => hexToBytes(e.hash)), hexToBytes(reviewHash(review, sodium))];
  head = signHead(leaves.length, bytesToHex(merkleRoot(leaves, sodium)));
});

const ack = () => ({
  review: structuredClone(review),
  hash: reviewHash(review, sodium),
  logIndex: 3,
  receivedAt: 1_700_000_100_001,
  receipt: { logIndex: 3, inclusionProof: inclusionProof(3, leaves, sodium).map(bytesToHex), treeHead: head },
});

describe('evidence entries', () => {
  it('accepts an entry, its signatures and its receipt under the signed head', () => {
    for (let i = 0; i < entries.length; i++) expect(check(evidence(i))).toEqual([]);
  });

  it('reports a changed body (hash recomputed), a bad co-signature, a receipt for another entry or head, and a head not signed by the pinned key', () => {
    const changed = evidence(1);
    (changed.entry.data as Record<string, unknown>).reason = 'routine';
    expect(check(changed).join('\n')).toMatch(/hash does not match its body/);

    const badSig = evidence(1);
    const sigs = badSig.entry.sigs as { key: string; sig: string }[];
    sigs[1] = { key: sigs[1]!.key, sig: sigs[0]!.sig };
    expect(check(badSig).join('\n')).toMatch(/signature of key .* does not verify/);

    const swapped = { entry: structuredClone(entries[0]!), receipt: receiptOf(entries[1]!, 1) };
    expect(check(swapped).join('\n')).toMatch(/receipt is for another entry/);

    const wrongProof = evidence(2);
    wrongProof.receipt.logIndex = 1;
    expect(check(wrongProof).join('\n')).toMatch(/inclusion proof .* does not lead to the signed root/);

    const otherHead = signHead(
      head.size,
      head.root.replace(/^./, (c) => (c === '0' ? '1' : '0')),
    );
    expect(check(evidence(0), otherHead).join('\n')).toMatch(/not under the tree head of this answer/);

    const forged = { ...head, signature: bytesToHex(reviewer.sign(treeHeadSignatureMessage(head, sodium))) };
    const underForged = { entry: structuredClone(entries[0]!), receipt: { ...receiptOf(entries[0]!, 0), treeHead: forged } };
    expect(check(underForged, forged).join('\n')).toMatch(/does not verify under the pinned server key/);

    expect(check({ entry: { v: 1 }, receipt: null }).join('\n')).toMatch(/malformed/);
  });
});

describe('acknowledgements', () => {
  const subject = () => ({ kind: 'incident' as const, id: entries[0]!.hash });

  it('accepts a signed review whose hash is logged under the signed head', () => {
    expect(acknowledgementProblems(ack(), subject(), server.publicKey, sodium)).toEqual([]);
  });

  it('reports a changed review, a hash that is not the review, another subject and a receipt that does not lead to the root', () => {
    const text = ack();
    text.review.review.text = 'changed';
    const problems = acknowledgementProblems(text, subject(), server.publicKey, sodium).join('\n');
    expect(problems).toMatch(/signature over the review does not verify/);
    expect(problems).toMatch(/review hash does not match/);

    expect(acknowledgementProblems(ack(), { kind: 'incident', id: entries[1]!.hash }, server.publicKey, sodium).join('\n')).toMatch(
      /is for incident .*, not this incident/,
    );

    const moved = ack();
    moved.logIndex = 2;
    moved.receipt.logIndex = 2;
    expect(acknowledgementProblems(moved, subject(), server.publicKey, sodium).join('\n')).toMatch(/inclusion proof of the review/);

    expect(acknowledgementProblems(ack(), subject(), reviewer.publicKey, sodium).join('\n')).toMatch(/pinned server key/);
  });
});
