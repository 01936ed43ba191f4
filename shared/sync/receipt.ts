import { z } from 'zod';
import { canonicalize } from '../journal/canonical';
import { verifyInclusion, type Sha256 } from '../journal/merkle';
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
