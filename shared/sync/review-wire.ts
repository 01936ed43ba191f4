import { z } from 'zod';
import { canonicalize } from '../journal/canonical';
import { UNSAFE_TEXT } from '../journal/entry-types';
import { sodiumNow, type Sodium } from '../sodium';
import { receiptSchema, treeHeadSchema } from './receipt';
import { MAX_REVIEW_TEXT, REVIEW_FINDINGS } from './review-findings';

/**
 * Wire types of the reviewer's loop (docs/sync-protocol.md "Incidents, alarms and reviews"):
 * incidents opened by synced break-glass entries, alarms, and the reviewer's signed review that
 * acknowledges either. The server, the app's review service and the CLI all use these.
 */

/** Domain prefix of a reviewer's signature over a review (never reused for another message). */
export const REVIEW_SIGNATURE_DOMAIN = 'halfkey/review/v1\n';
/** Domain prefix of a review's leaf data in the server's Merkle log (an entry hash has none, so the two never collide). */
export const REVIEW_LEAF_DOMAIN = 'halfkey/review-leaf/v1\n';
/** How far a review's own time may be from the server's clock when it is submitted. */
export const REVIEW_CLOCK_SKEW_MS = 10 * 60_000;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const hex128 = z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex digits (an Ed25519 signature)');
const time = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** What a review acknowledges: an incident (id: 64 hex, see incidentSchema) or an alarm (id: its decimal number). */
export const reviewSubjectSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('incident'), id: hex64 }).strict(),
  z.object({ kind: z.literal('alarm'), id: z.string().regex(/^[1-9][0-9]{0,14}$/, 'an alarm id is a whole number from 1') }).strict(),
]);
export type ReviewSubject = z.infer<typeof reviewSubjectSchema>;

export { MAX_REVIEW_TEXT, REVIEW_FINDINGS, type ReviewFinding } from './review-findings';

/** The body a reviewer signs. `reviewer` is their signing key (the key granted on the server). */
export const reviewBodySchema = z
  .object({
    subject: reviewSubjectSchema,
    finding: z.enum(REVIEW_FINDINGS),
    /** Whether the halves used have been rotated (two-phase rotation confirmed) at the time of the review. */
    rotationDone: z.boolean(),
    text: z
      .string()
      .max(MAX_REVIEW_TEXT, `must be at most ${MAX_REVIEW_TEXT} characters`)
      .refine((t) => !UNSAFE_TEXT.test(t.replace(/\n/g, ' ')), 'must not contain control characters other than line breaks'),
    reviewer: hex64,
    time,
  })
  .strict();
export type ReviewBody = z.infer<typeof reviewBodySchema>;

/** A review as submitted and as stored: the body and the reviewer's signature over reviewSignatureMessage(body). */
export const signedReviewSchema = z.object({ review: reviewBodySchema, signature: hex128 }).strict();
export type SignedReview = z.infer<typeof signedReviewSchema>;

const encoder = new TextEncoder();

/** The bytes a reviewer signs: the domain prefix, then the canonical JSON of the body. */
export function reviewSignatureMessage(body: ReviewBody): Uint8Array {
  return encoder.encode(REVIEW_SIGNATURE_DOMAIN + canonicalize(body));
}

/**
 * The review's hash, the leaf data the server's Merkle log holds for it (as it holds an entry's
 * hash for an entry): SHA-256 of the leaf domain prefix and the canonical JSON of the signed review.
 */
export function reviewHash(review: SignedReview, sodium: Sodium = sodiumNow()): string {
  return sodium.to_hex(sodium.crypto_hash_sha256(encoder.encode(REVIEW_LEAF_DOMAIN + canonicalize(review))));
}

/** True when `signature` is the reviewer's (review.reviewer) Ed25519 signature over the body. */
export function verifyReviewSignature(review: SignedReview, sodium: Sodium = sodiumNow()): boolean {
  try {
    return sodium.crypto_sign_verify_detached(
      sodium.from_hex(review.signature),
      reviewSignatureMessage(review.review),
      sodium.from_hex(review.review.reviewer),
    );
  } catch {
    return false;
  }
}

/**
 * A stored acknowledgement: the signed review, where it sits in the server's log, and its receipt
 * (inclusion under a signed tree head), so the reviewer's client checks it was logged.
 */
export const acknowledgementSchema = z
  .object({
    review: signedReviewSchema,
    hash: hex64,
    logIndex: time,
    receivedAt: time,
    receipt: z.object({ logIndex: time, inclusionProof: z.array(hex64), treeHead: treeHeadSchema }).strict(),
  })
  .strict();
export type Acknowledgement = z.infer<typeof acknowledgementSchema>;

/** POST /v1/reviewer/acknowledge — body: a signed review. */
export const acknowledgeReviewRequestSchema = signedReviewSchema;
/** Its answer: the stored acknowledgement; `already: true` when the subject was acknowledged before (then it is the FIRST acknowledgement). */
export const acknowledgeReviewResponseSchema = z.object({ acknowledgement: acknowledgementSchema, already: z.boolean() }).strict();

/** One signed journal entry behind an incident or alarm, with its receipt under the view's tree head. */
export const evidenceEntrySchema = z.object({ entry: z.record(z.string(), z.unknown()), receipt: receiptSchema }).strict();

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/**
 * An incident: one break-glass session of one device. Its id is the hash of the first synced
 * entry of the session (normally `break-glass.opened`). `entries` are every synced entry of the
 * session (the break-glass steps and their checkouts) in seq order.
 */
export const incidentSchema = z
  .object({
    id: hex64,
    device: hex64,
    vault: z.string(),
    session: z.string(),
    account: z.string().nullable(),
    reference: z.string().nullable(),
    reason: z.string().nullable(),
    severity: z.string().nullable(),
    /** The outcome of `break-glass.closed` (`resolved`, `aborted`), null while the session is open on the device. */
    outcome: z.string().nullable(),
    openedAt: time,
    updatedAt: time,
    state: z.enum(['open', 'acknowledged']),
    entries: z.array(evidenceEntrySchema),
    acknowledgement: acknowledgementSchema.nullable(),
  })
  .strict();
export type Incident = z.infer<typeof incidentSchema>;

export const ALARM_KINDS = ['FORK', 'ROLLBACK', 'JOURNAL_WARNING', 'LOG_INCONSISTENT', 'BOTH_HALVES_OUT', 'DEVICE_SILENT'] as const;
export type AlarmKindName = (typeof ALARM_KINDS)[number];

/** An alarm as the reviewer sees it, with its state and acknowledgement. */
export const reviewAlarmSchema = z
  .object({
    id: z.string().regex(/^[1-9][0-9]{0,14}$/),
    device: hex64,
    kind: z.enum(ALARM_KINDS),
    seq: time.nullable(),
    message: z.string(),
    raisedAt: time,
    evidence: z.unknown(),
    /** The signed entries behind it, when it has any (BOTH_HALVES_OUT: the `custody.both-halves-out` entry and the checkouts). */
    entries: z.array(evidenceEntrySchema),
    state: z.enum(['open', 'acknowledged']),
    acknowledgement: acknowledgementSchema.nullable(),
  })
  .strict();
export type ReviewAlarm = z.infer<typeof reviewAlarmSchema>;

/** GET /v1/reviewer/incidents?state=open|all&limit=&after= */
export const incidentsResponseSchema = z
  .object({ incidents: z.array(incidentSchema), treeHead: treeHeadSchema.nullable(), next: z.string().nullable() })
  .strict();
/** GET /v1/reviewer/alarms?state=open|all&limit=&after= */
export const reviewAlarmsResponseSchema = z
  .object({ alarms: z.array(reviewAlarmSchema), treeHead: treeHeadSchema.nullable(), next: z.string().nullable() })
  .strict();
