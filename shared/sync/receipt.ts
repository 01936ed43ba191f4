import { z } from 'zod';
import { canonicalize } from '../journal/canonical';
import { bytesToHex as bytesHex, hexToBytes as hexBytes } from '../journal/hex';
import { MerkleFrontier, appendedLeafProofs, verifyInclusion, type Sha256 } from '../journal/merkle';
import { sodiumNow, type Sodium } from '../sodium';

/** Domain prefix of the server's signature over a tree head (never reused for another message). */
export const TREE_HEAD_SIGNATURE_DOMAIN = 'halfkey/tree-head/v1\n';
/** Domain prefix of the server's cosignature over a device checkpoint entry's hash. */
export const CHECKPOINT_COSIGN_DOMAIN = 'halfkey/checkpoint-cosign/v1\n';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const hex128 = z.string().regex(/^[0-9a-f]{128}$/, 'expected 128 lowercase hex characters');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A signed tree head of the server's org-wide log: size, RFC 6962 root, time (ms) and signature. */
export const treeHeadSchema = z
  .object({
    size: count,
    root: hex64,
    timestamp: count,
    signature: hex128,
  })
  .strict();
export type TreeHead = Readonly<z.infer<typeof treeHeadSchema>>;

/** The server's proof that it logged one entry: where, under which signed head, and the audit path. */
export const receiptSchema = z
  .object({
    device: hex64,
    seq: count,
    entryHash: hex64,
    logIndex: count,
    treeHead: treeHeadSchema,
    inclusionProof: z.array(hex64).max(64),
  })
  .strict();
export type Receipt = Readonly<z.infer<typeof receiptSchema>>;

const withDomain = (domain: string, payload: Uint8Array, sodium: Sodium): Uint8Array => {
  const prefix = sodium.from_string(domain);
  const message = new Uint8Array(prefix.length + payload.length);
  message.set(prefix, 0);
  message.set(payload, prefix.length);
  return message;
};

/** The exact bytes a tree head signature covers: the domain, then the canonical JSON of {root,size,timestamp}. */
export function treeHeadSignatureMessage(head: Pick<TreeHead, 'size' | 'root' | 'timestamp'>, sodium: Sodium = sodiumNow()): Uint8Array {
  return sodium.from_string(TREE_HEAD_SIGNATURE_DOMAIN + canonicalize({ root: head.root, size: head.size, timestamp: head.timestamp }));
}

/** The exact bytes a checkpoint cosignature covers: the domain, then the 32-byte checkpoint entry hash. */
export function checkpointCosignMessage(entryHashHex: string, sodium: Sodium = sodiumNow()): Uint8Array {
  return withDomain(CHECKPOINT_COSIGN_DOMAIN, sodium.from_hex(entryHashHex), sodium);
}

const verifySignature = (signatureHex: string, message: Uint8Array, publicKeyHex: string, sodium: Sodium): boolean => {
  try {
    return sodium.crypto_sign_verify_detached(sodium.from_hex(signatureHex), message, sodium.from_hex(publicKeyHex));
  } catch {
    return false;
  }
};

/** Why a tree head fails against the pinned server key, or null when its signature is good. */
export function treeHeadProblem(head: unknown, serverPublicKey: string, sodium: Sodium = sodiumNow()): string | null {
  const parsed = treeHeadSchema.safeParse(head);
  if (!parsed.success) return `tree head is malformed: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`;
  if (!/^[0-9a-f]{64}$/.test(serverPublicKey)) return 'the pinned server key is not 64 hex characters';
  if (!verifySignature(parsed.data.signature, treeHeadSignatureMessage(parsed.data, sodium), serverPublicKey, sodium)) {
    return 'tree head signature does not verify under the pinned server key';
  }
  return null;
}

/**
 * Why a receipt fails, or null when it is good: the schema, the server's signature over the
 * tree head (under the key pinned at enrolment) and the inclusion proof of the entry hash at
 * logIndex in a tree of treeHead.size leaves with root treeHead.root. A batch's receipts share
 * one head: pass the same `verifiedHeads` set to check each head's signature only once.
 */
export function receiptProblem(
  receipt: unknown,
  serverPublicKey: string,
  sodium: Sodium = sodiumNow(),
  verifiedHeads?: Set<string>,
  sha256?: Sha256,
): string | null {
  const parsed = receiptSchema.safeParse(receipt);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `receipt is malformed at ${issue?.path.join('.') || 'receipt'}: ${issue?.message ?? 'schema mismatch'}`;
  }
  return parsedReceiptProblem(parsed.data, serverPublicKey, sodium, verifiedHeads, sha256);
}

/**
 * receiptProblem for a receipt that already passed receiptSchema (inside a parsed ingest
 * response, say): the signature and proof checks without parsing it a second time. `sha256`
 * lets a Node caller hash the proof natively (the same digests).
 */
export function parsedReceiptProblem(
  r: Receipt,
  serverPublicKey: string,
  sodium: Sodium = sodiumNow(),
  verifiedHeads?: Set<string>,
  sha256?: Sha256,
): string | null {
  // The cache key binds the whole signed head and the key it verified under.
  const headKey = `${serverPublicKey}:${r.treeHead.size}:${r.treeHead.root}:${r.treeHead.timestamp}:${r.treeHead.signature}`;
  if (!verifiedHeads?.has(headKey)) {
    const headProblem = treeHeadProblem(r.treeHead, serverPublicKey, sodium);
    if (headProblem !== null) return headProblem;
    verifiedHeads?.add(headKey);
  }
  if (r.logIndex >= r.treeHead.size) return `log index ${r.logIndex} is outside the signed tree of ${r.treeHead.size}`;
  const proof = r.inclusionProof.map((h) => sodium.from_hex(h));
  if (
    !verifyInclusion(r.logIndex, r.treeHead.size, sodium.from_hex(r.entryHash), proof, sodium.from_hex(r.treeHead.root), sodium, sha256)
  ) {
    return `inclusion proof of entry ${r.device.slice(0, 8)}…#${r.seq} does not lead to the signed root`;
  }
  return null;
}

/** True when the receipt is well formed, signed by the pinned server key and its inclusion proof holds. */
export function verifyReceipt(receipt: unknown, serverPublicKey: string, sodium: Sodium = sodiumNow()): boolean {
  return receiptProblem(receipt, serverPublicKey, sodium) === null;
}

/** True when `signature` is the server's cosignature (under the pinned key) of the checkpoint entry hash. */
export function verifyCheckpointCosignature(
  entryHashHex: string,
  signature: string,
  serverPublicKey: string,
  sodium: Sodium = sodiumNow(),
): boolean {
  if (!/^[0-9a-f]{64}$/.test(entryHashHex) || !/^[0-9a-f]{128}$/.test(signature) || !/^[0-9a-f]{64}$/.test(serverPublicKey)) return false;
  return verifySignature(signature, checkpointCosignMessage(entryHashHex, sodium), serverPublicKey, sodium);
}

/**
 * The receipts of one accepted batch, kept as one block: the signed tree head, the log index of
 * the batch's first new entry (the log's size before it), the log's frontier there (the roots of
 * the perfect subtrees covering the first logStart leaves, left to right) and the batch's entry
 * hashes, which are consecutive leaves from logStart. Each entry's receipt is derived from it
 * (receiptsOfBlock) when it is read, instead of storing an audit path per entry.
 */
export interface ReceiptBlock {
  readonly device: string;
  /** Seq of the block's first entry; the entries are firstSeq .. firstSeq + entryHashes.length - 1. */
  readonly firstSeq: number;
  readonly logStart: number;
  readonly treeHead: TreeHead;
  readonly frontier: readonly string[];
  readonly entryHashes: readonly string[];
}

/**
 * Why a receipt block fails, or null when it is good: the tree head must be signed by the pinned
 * key, the tree must hold exactly the batch's entries after logStart, and the entry hashes,
 * appended after the frontier, must lead to the signed root. This checks everything each derived
 * receipt would be checked for (receiptProblem), once for the whole block.
 */
export function receiptBlockProblem(
  block: ReceiptBlock,
  serverPublicKey: string,
  sha256: Sha256,
  sodium: Sodium = sodiumNow(),
): string | null {
  const { treeHead, logStart, entryHashes } = block;
  if (entryHashes.length === 0) return 'the block holds no entries';
  if (!Number.isSafeInteger(logStart) || logStart < 0 || treeHead.size !== logStart + entryHashes.length)
    return `a tree of ${treeHead.size} leaves cannot hold ${entryHashes.length} entries appended at ${logStart}`;
  const headProblem = treeHeadProblem(treeHead, serverPublicKey, sodium);
  if (headProblem !== null) return headProblem;
  let tree: MerkleFrontier;
  try {
    tree = MerkleFrontier.fromSubtrees(logStart, block.frontier.map(hexBytes), sha256);
  } catch (error) {
    return error instanceof Error ? `the log's frontier: ${error.message}` : 'malformed frontier';
  }
  try {
    for (const h of entryHashes) tree.push(hexBytes(h));
  } catch {
    return 'an entry hash of the block is not 64 lowercase hex digits';
  }
  if (bytesHex(tree.root()) !== treeHead.root)
    return 'this batch’s entries, appended after the log’s frontier, do not lead to the signed root';
  return null;
}

/**
 * Each entry's receipt from a block, in seq order: the audit path of leaf logStart + i in the
 * signed tree, folded from the frontier and the block's entry hashes. For a block that
 * receiptBlockProblem accepts, each is exactly the receipt the server would have sent for that
 * entry (receiptProblem accepts it); for one it refuses, the derived proofs do not lead to the
 * signed root, so a reader that checks them sees it. Throws a RangeError when the frontier does
 * not have the shape logStart implies.
 */
export function receiptsOfBlock(block: ReceiptBlock, sha256: Sha256): Receipt[] {
  if (block.entryHashes.length === 0) return [];
  const folded = appendedLeafProofs(block.logStart, block.frontier.map(hexBytes), block.entryHashes.map(hexBytes), sha256);
  // Neighbouring leaves share most of their audit paths, and the fold hands back the same node
  // object each time: each node is turned into hex once.
  const hexes = new Map<Uint8Array, string>();
  const hex = (bytes: Uint8Array): string => {
    let text = hexes.get(bytes);
    if (text === undefined) {
      text = bytesHex(bytes);
      hexes.set(bytes, text);
    }
    return text;
  };
  return block.entryHashes.map((entryHash, i) => ({
    device: block.device,
    seq: block.firstSeq + i,
    entryHash,
    logIndex: block.logStart + i,
    treeHead: block.treeHead,
    inclusionProof: folded.proofs[i]!.map(hex),
  }));
}
