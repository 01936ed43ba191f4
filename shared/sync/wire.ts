import { z } from 'zod';
import { reviewAlarmSchema } from './review-wire';
import { receiptSchema, treeHeadSchema } from './receipt';
import { sodiumNow, type Sodium } from '../sodium';
import { UNSAFE_TEXT } from '../journal/entry-types';

/**
 * Wire types of the sync protocol (docs/sync-protocol.md): request signing, request and response
 * bodies, and the stable error codes the server answers with.
 */

/** Domain prefix of a device's signature over a request (never reused for another message). */
export const REQUEST_SIGNATURE_DOMAIN = 'halfkey/sync-request/v1\n';
/** Domain prefix of a reviewer's signature over a session challenge. */
export const REVIEWER_CHALLENGE_DOMAIN = 'halfkey/reviewer-session/v1\n';
/** Domain prefix of a device's signature over its enrolment (proof that the enrolling party holds the device key). */
export const ENROL_SIGNATURE_DOMAIN = 'halfkey/enrol/v1\n';
/** A request's timestamp may differ from the server clock by at most this much (ms). */
export const REQUEST_CLOCK_SKEW_MS = 5 * 60_000;
/**
 * Entries per ingest request; a client splits a longer backlog into batches of at most this many
 * (and at most MAX_BATCH_BYTES). Large enough that a backlog's fixed costs per batch (two
 * signatures, two durable commits, a round trip) are small beside its entries' own.
 */
export const MAX_BATCH_ENTRIES = 4096;
/** The entry limit of servers before MAX_BATCH_ENTRIES was raised: a client facing one (400 on a larger batch) sends at most this many. */
export const LEGACY_MAX_BATCH_ENTRIES = 500;
/** The server's default limit on an ingest body (bytes); a client keeps its batches well below it. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Optional header: the device's not-yet-uploaded `device.key-rotated` entry (JSON). It vouches
 * for the new key that signs the request until the server has ingested the rotation.
 */
export const ROTATION_HEADER = 'x-halfkey-rotation';
/** Most `device.key-rotated` entries one rotation proof may carry (about 700 bytes each; request headers are capped at 16 KiB). */
export const MAX_ROTATIONS_PER_PROOF = 8;

/** Headers of a signed device request. */
export const SIGNED_HEADERS = {
  device: 'x-halfkey-device',
  timestamp: 'x-halfkey-timestamp',
  nonce: 'x-halfkey-nonce',
  signature: 'x-halfkey-signature',
} as const;

/** Every error code the server answers with, in `{ error: { code, message } }`. */
export const WIRE_ERROR_CODES = [
  'BAD_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAUTHENTICATED',
  'BAD_REQUEST_SIGNATURE',
  'STALE_REQUEST',
  'REPLAYED_NONCE',
  'UNKNOWN_DEVICE',
  'WRONG_DEVICE',
  'DEVICE_REVOKED',
  'RATE_LIMITED',
  'TOKEN_INVALID',
  'ALREADY_ENROLLED',
  'ENTRY_INVALID',
  'SEQUENCE_GAP',
  'FORK',
  'ROLLBACK',
  'NOT_A_REVIEWER',
  'CHALLENGE_INVALID',
  'SESSION_INVALID',
  'NOT_FOUND',
  'REVIEW_INVALID',
  'REVIEW_STALE',
  'WRONG_REVIEWER',
  'OWN_INCIDENT',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'BODY_TOO_DEEP',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

export const wireErrorSchema = z.object({
  error: z.object({ code: z.enum(WIRE_ERROR_CODES), message: z.string(), evidence: z.unknown().optional() }),
});
export type WireError = z.infer<typeof wireErrorSchema>;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The exact bytes a device signs for one request: domain, method, path (with query), body hash, timestamp, nonce. */
export function requestSignatureMessage(
  parts: {
    readonly method: string;
    readonly path: string;
    readonly bodySha256: string;
    readonly timestamp: string;
    readonly nonce: string;
  },
  sodium: Sodium = sodiumNow(),
): Uint8Array {
  return sodium.from_string(
    `${REQUEST_SIGNATURE_DOMAIN}${parts.method.toUpperCase()}\n${parts.path}\n${parts.bodySha256}\n${parts.timestamp}\n${parts.nonce}`,
  );
}

/** The exact bytes a reviewer signs to open a session: the domain, then the challenge (hex). */
export function reviewerChallengeMessage(challenge: string, sodium: Sodium = sodiumNow()): Uint8Array {
  return sodium.from_string(`${REVIEWER_CHALLENGE_DOMAIN}${challenge}`);
}

/**
 * The exact bytes a device signs to enrol: the domain, then hex(SHA-256(token)), the vault id and
 * the device id, one per line. The token hash ties the signature to one enrolment on one server
 * (tokens are random per server), so it cannot be replayed with another vault or token.
 */
export function enrolSignatureMessage(
  parts: { readonly token: string; readonly vault: string; readonly device: string },
  sodium: Sodium = sodiumNow(),
): Uint8Array {
  const tokenSha256 = sodium.to_hex(sodium.crypto_hash_sha256(sodium.from_string(parts.token)));
  return sodium.from_string(`${ENROL_SIGNATURE_DOMAIN}${tokenSha256}\n${parts.vault}\n${parts.device}`);
}

const identifier = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !UNSAFE_TEXT.test(s), 'must not contain control characters or unpaired surrogates');

/** One custodian key from the vault's genesis roster, as sent at enrolment. */
export const rosterMemberSchema = z.object({ custodian: identifier(256), signingKey: hex64, role: identifier(64) }).strict();

/** POST /v1/enrol */
export const enrolRequestSchema = z
  .object({
    token: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'not an enrolment token'),
    vault: z.string().regex(/^[0-9a-f]{32}$/, 'expected a 32-hex vault id'),
    device: hex64,
    roster: z.array(rosterMemberSchema).max(256),
    /** Ed25519 signature (128 hex) over enrolSignatureMessage by the device key; a missing one is refused as BAD_REQUEST_SIGNATURE, not as a malformed body. */
    signature: z
      .string()
      .regex(/^[0-9a-f]{128}$/, 'expected a 128-hex Ed25519 signature')
      .optional(),
  })
  .strict();
export type EnrolRequest = z.infer<typeof enrolRequestSchema>;
export const enrolResponseSchema = z.object({ serverKey: hex64, serverFingerprint: z.string(), device: hex64 }).strict();
export type EnrolResponse = z.infer<typeof enrolResponseSchema>;
/** GET /v1/server-key — the key the server signs with now (what a client re-pins after a rotation). */
export const serverKeyResponseSchema = z.object({ serverKey: hex64, serverFingerprint: z.string() }).strict();

const isJsonObject = (o: unknown): o is Record<string, unknown> => {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const proto = Object.getPrototypeOf(o) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * POST /v1/devices/:device/entries — entries are checked in full by the journal verifier; here
 * each need only be a JSON object (a check that keeps the parsed objects instead of copying them).
 */
export const ingestRequestSchema = z
  .object({
    entries: z
      .array(z.custom<Record<string, unknown>>(isJsonObject, { message: 'each entry must be a JSON object' }))
      .min(1)
      .max(MAX_BATCH_ENTRIES),
  })
  .strict();
export const cosignatureSchema = z.object({ seq, entryHash: hex64, signature: z.string().regex(/^[0-9a-f]{128}$/) }).strict();
export type Cosignature = z.infer<typeof cosignatureSchema>;
/**
 * Query of POST /v1/devices/:device/entries. `receipts=batch` asks for the entries the server
 * appends now as one `appended` block (a signed tree head, where the batch starts in the log and
 * the log's frontier before it) instead of one receipt per entry: the client derives each
 * entry's receipt itself (shared/journal/merkle.ts appendedLeafProofs) and checks that its own
 * entry hashes lead to the signed root.
 */
export const ingestQuerySchema = z.object({ receipts: z.enum(['batch']).optional() }).strict();
/** The log positions of a batch's newly appended entries, for a client that asked for receipts=batch. */
export const appendedSchema = z
  .object({
    treeHead: treeHeadSchema,
    /** Log index of the batch's first new entry: the log's size before the batch. */
    logStart: seq,
    /** Roots of the perfect subtrees covering the log's first logStart leaves, left to right (one per set bit of logStart). */
    frontier: z.array(hex64).max(64),
  })
  .strict();
export type Appended = z.infer<typeof appendedSchema>;
export const ingestResponseSchema = z
  .object({
    /** One receipt per entry; with receipts=batch, only for entries the server already held (a resend). */
    receipts: z.array(receiptSchema),
    /** With receipts=batch, when the batch appended entries: their common proof material. */
    appended: appendedSchema.optional(),
    cosignatures: z.array(cosignatureSchema),
    head: z.object({ seq, hash: hex64 }).strict(),
  })
  .strict();
export type IngestResponse = z.infer<typeof ingestResponseSchema>;

/** GET /v1/devices/:device/head — where the server's copy of this device's chain ends. */
export const deviceHeadResponseSchema = z
  .object({ seq: seq.nullable(), hash: hex64.nullable(), treeHead: treeHeadSchema.nullable() })
  .strict();
export type DeviceHeadResponse = z.infer<typeof deviceHeadResponseSchema>;

/** GET /v1/log/consistency?from=&to= */
export const consistencyQuerySchema = z
  .object({ from: z.coerce.number().int().positive(), to: z.coerce.number().int().positive() })
  .strict();
export const consistencyResponseSchema = z.object({ from: treeHeadSchema, to: treeHeadSchema, proof: z.array(hex64) }).strict();

/** POST /v1/reviewer/challenge and /v1/reviewer/session */
export const challengeRequestSchema = z.object({ key: hex64 }).strict();
export const challengeResponseSchema = z.object({ challenge: hex64, expiresAt: seq }).strict();
export const sessionRequestSchema = z.object({ key: hex64, challenge: hex64, signature: z.string().regex(/^[0-9a-f]{128}$/) }).strict();
export const sessionResponseSchema = z.object({ token: z.string(), expiresAt: seq }).strict();

/** Reviewer views. */
export const deviceSummarySchema = z
  .object({
    device: hex64,
    vault: z.string(),
    enrolledAt: seq,
    revokedAt: seq.nullable(),
    lastSeen: seq.nullable(),
    lastSeq: seq.nullable(),
    alarms: z.number().int().nonnegative(),
  })
  .strict();
/** An alarm as GET /v1/reviewer/alarms lists it (with its entries, state and acknowledgement): review-wire.ts reviewAlarmSchema. */
export const alarmSchema = reviewAlarmSchema;

/** How a person compares server keys: SHA-256 of the public key, first 16 bytes in groups of four hex digits. */
export function serverKeyFingerprint(serverKeyHex: string, sodium: Sodium = sodiumNow()): string {
  const digest = sodium.to_hex(sodium.crypto_hash_sha256(sodium.from_hex(serverKeyHex))).slice(0, 32);
  return digest.match(/.{4}/g)!.join(' ');
}

/** Headers of a signed request by the device key (the signer), over the exact body bytes sent. */
export function signedRequestHeaders(
  request: {
    readonly method: string;
    readonly path: string;
    readonly body: Uint8Array;
    readonly timestamp: number;
    readonly nonce: string;
    readonly device?: string;
    /** SHA-256 of `body` as hex, when the caller hashed it already (natively, say); computed here otherwise. */
    readonly bodySha256?: string;
  },
  signer: { readonly publicKey: string; sign(message: Uint8Array): Uint8Array },
  sodium: Sodium = sodiumNow(),
): Record<string, string> {
  const timestamp = String(request.timestamp);
  const bodySha256 = request.bodySha256 ?? sodium.to_hex(sodium.crypto_hash_sha256(request.body));
  const message = requestSignatureMessage(
    { method: request.method, path: request.path, bodySha256, timestamp, nonce: request.nonce },
    sodium,
  );
  return {
    // The device id stays the genesis key; after a key rotation the signer is the newer key.
    [SIGNED_HEADERS.device]: request.device ?? signer.publicKey,
    [SIGNED_HEADERS.timestamp]: timestamp,
    [SIGNED_HEADERS.nonce]: request.nonce,
    [SIGNED_HEADERS.signature]: sodium.to_hex(signer.sign(message)),
  };
}
