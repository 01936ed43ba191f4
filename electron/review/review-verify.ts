import { canonicalize } from '../../shared/journal/canonical';
import { canonicalBodyText, verifyEntrySignature, type SignedEntry } from '../../shared/journal/entry';
import { entrySchema } from '../../shared/journal/entry-shape';
import { MAX_ENTRY_DEPTH, valueDepthExceeds } from '../../shared/journal/limits';
import type { Sodium } from '../../shared/sodium';
import { parsedReceiptProblem, receiptSchema, treeHeadProblem, type TreeHead } from '../../shared/sync/receipt';
import {
  acknowledgementSchema,
  reviewHash,
  verifyReviewSignature,
  type Acknowledgement,
  type ReviewSubject,
} from '../../shared/sync/review-wire';

/**
 * Offline checks of what the server's reviewer views answer (docs/sync-protocol.md "Reviewers"):
 * every check is made here, on the reviewer's machine, against the server key this vault pinned
 * at enrolment, with the journal's own hashing and signature code. A check that fails is reported
 * as a reason in words; nothing is ever assumed fine because the server said so.
 */

/** The longest text of a server's answer shown as it is; longer text is cut (and the cut said). */
const MAX_SHOWN = 2000;

/** A server's text, cut to what a screen or a terminal shows. */
export function shown(text: string): string {
  return text.length <= MAX_SHOWN ? text : `${text.slice(0, MAX_SHOWN)}… (cut: ${text.length} characters)`;
}

/** One signed entry behind an incident or alarm, checked. */
export interface CheckedEntry {
  readonly entry: SignedEntry | null;
  readonly problems: string[];
}

/**
 * Checks one evidence entry: its shape, its hash recomputed from its canonical body, the device's
 * signature first and every signature valid, and its receipt under the view's tree head (the
 * signed head the response names, and the inclusion proof to its root).
 */
export function checkEvidence(
  raw: { readonly entry: unknown; readonly receipt: unknown },
  head: TreeHead | null,
  serverKey: string,
  sodium: Sodium,
  verifiedHeads: Set<string>,
): CheckedEntry {
  if (valueDepthExceeds(raw.entry, MAX_ENTRY_DEPTH))
    return { entry: null, problems: ['the entry is nested too deeply to be a journal entry'] };
  const parsed = entrySchema.safeParse(raw.entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      entry: null,
      problems: [`the entry is malformed at ${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'schema mismatch'}`],
    };
  }
  const entry = parsed.data as SignedEntry;
  const problems: string[] = [];
  let hash: string;
  try {
    hash = sodium.to_hex(sodium.crypto_hash_sha256(sodium.from_string(canonicalBodyText(entry))));
  } catch {
    return { entry, problems: ['the entry body has no canonical form (a value canonical JSON cannot hold)'] };
  }
  if (hash !== entry.hash) problems.push(`entry #${entry.seq}: its hash does not match its body (recomputed ${hash.slice(0, 12)}…)`);
  if (entry.sigs[0]?.key !== entry.device) problems.push(`entry #${entry.seq}: the first signature is not the device's`);
  for (const sig of entry.sigs) {
    if (!verifyEntrySignature(hash, sig, sodium))
      problems.push(`entry #${entry.seq}: the signature of key ${sig.key.slice(0, 12)}… does not verify`);
  }
  const receipt = receiptSchema.safeParse(raw.receipt);
  if (!receipt.success) {
    problems.push(`entry #${entry.seq}: its receipt is malformed`);
  } else {
    const r = receipt.data;
    if (r.device !== entry.device || r.seq !== entry.seq || r.entryHash !== entry.hash) {
      problems.push(`entry #${entry.seq}: its receipt is for another entry`);
    } else if (head === null || canonicalize(r.treeHead) !== canonicalize(head)) {
      problems.push(`entry #${entry.seq}: its receipt is not under the tree head of this answer`);
    } else {
      const problem = parsedReceiptProblem(r, serverKey, sodium, verifiedHeads);
      if (problem !== null) problems.push(`entry #${entry.seq}: receipt: ${problem}`);
    }
  }
  return { entry, problems };
}

/**
 * Checks a stored acknowledgement: the reviewer's signature over the review, its hash (the leaf the
 * server's log holds) recomputed, that it acknowledges `subject`, and its receipt: a tree head
 * signed by the pinned key and the inclusion of that hash at its log index.
 */
export function acknowledgementProblems(raw: unknown, subject: ReviewSubject, serverKey: string, sodium: Sodium): string[] {
  const parsed = acknowledgementSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return [`the acknowledgement is malformed at ${issue?.path.join('.') || 'acknowledgement'}: ${issue?.message ?? 'schema mismatch'}`];
  }
  const ack: Acknowledgement = parsed.data;
  const problems: string[] = [];
  if (ack.review.review.subject.kind !== subject.kind || ack.review.review.subject.id !== subject.id)
    problems.push(`the acknowledgement is for ${ack.review.review.subject.kind} ${ack.review.review.subject.id}, not this ${subject.kind}`);
  if (!verifyReviewSignature(ack.review, sodium)) problems.push("the reviewer's signature over the review does not verify");
  const hash = reviewHash(ack.review, sodium);
  if (hash !== ack.hash) problems.push('the review hash does not match the signed review');
  if (ack.receipt.logIndex !== ack.logIndex) problems.push('the receipt is for another place in the log');
  const headProblem = treeHeadProblem(ack.receipt.treeHead, serverKey, sodium);
  if (headProblem !== null) {
    problems.push(`the acknowledgement's receipt: ${headProblem}`);
  } else {
    // The review's leaf sits in the log as an entry hash does: the same inclusion check, on its hash.
    const problem = parsedReceiptProblem(
      {
        device: ack.review.review.reviewer,
        seq: 0,
        entryHash: hash,
        logIndex: ack.logIndex,
        treeHead: ack.receipt.treeHead,
        inclusionProof: ack.receipt.inclusionProof,
      },
      serverKey,
      sodium,
    );
    if (problem !== null) problems.push(`the acknowledgement's receipt: ${problem.replace(/of entry \S+ /, 'of the review ')}`);
  }
  return problems;
}

/** Why the answer's tree head cannot be trusted, or null when it is signed by the pinned key. */
export function answerHeadProblem(head: TreeHead | null, serverKey: string, sodium: Sodium): string | null {
  if (head === null) return null;
  return treeHeadProblem(head, serverKey, sodium);
}
