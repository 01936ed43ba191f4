import { z } from 'zod';
import { FAILURE_CODES, type FailureCode } from '../../journal/verifier';
import { treeHeadSchema } from '../../sync/receipt';
import { SERVER_EXPORT_FORMAT, type ServerExportFailureCode } from '../../sync/server-export';
import { ALARM_KINDS, REVIEW_FINDINGS, reviewBodySchema, reviewSubjectSchema } from '../../sync/review-wire';

// Reviewer channels: what a reviewer does against the central server with their custodian key.
// The reviewer (`by`) must be unlocked in this session (custodian:unlock), as for custody calls.

const custodianId = z.string().regex(/^[0-9a-f]{32}$/, 'a custodian id is 32 lowercase hex characters');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Absolute path of the file to write (a `.part` file beside it holds the download until it is checked). */
const outPath = z
  .string()
  .min(2)
  .max(4096)
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path')
  .refine((p) => !p.includes('\0'), 'must not contain NUL');

const chainFailureCode = z.enum(FAILURE_CODES as unknown as [FailureCode, ...FailureCode[]]);
const SERVER_EXPORT_ONLY_CODES: readonly ServerExportFailureCode[] = [
  'BAD_TREE_HEAD',
  'SERVER_KEY_MISMATCH',
  'LOG_INDEX_MISMATCH',
  'LOG_ROOT_MISMATCH',
  'BAD_REVIEW',
];
const exportFailureCode = z.enum([...FAILURE_CODES, ...SERVER_EXPORT_ONLY_CODES] as unknown as [
  ServerExportFailureCode,
  ...ServerExportFailureCode[],
]);

/** The verifier's verdict on the server's org-wide export (shared/sync/server-export.ts ServerExportReport), every field of it. */
export const serverExportReportSchema = z.object({
  format: z.literal(SERVER_EXPORT_FORMAT),
  ok: z.boolean(),
  serverKey: z.string(),
  treeHead: treeHeadSchema.nullable(),
  entries: count,
  devices: z.array(
    z.object({
      vault: z.string(),
      device: z.string(),
      ok: z.boolean(),
      entries: count,
      head: z.object({ seq: count, hash: z.string() }).nullable(),
      failureCount: count,
      failures: z.array(z.object({ seq: count.nullable(), code: chainFailureCode, reason: z.string() })),
    }),
  ),
  reviews: z.array(
    z.object({
      line: count,
      logIndex: count,
      subject: reviewSubjectSchema.nullable(),
      reviewer: z.string().nullable(),
      finding: z.enum(REVIEW_FINDINGS).nullable(),
      ok: z.boolean(),
    }),
  ),
  failureCount: count,
  failures: z.array(
    z.object({
      line: count.nullable(),
      vault: z.string().nullable(),
      device: z.string().nullable(),
      seq: count.nullable(),
      code: exportFailureCode,
      reason: z.string(),
    }),
  ),
});

/** Bounds of what the reviewer views return (the page the server is asked for, and what one item may carry). */
export const MAX_REVIEW_PAGE = 200;
const MAX_ITEM_ENTRIES = 1000;
const MAX_PROBLEMS = 200;
const text = z.string().max(4096);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** Which items a view lists: the open ones (the queue) or every one, acknowledged too. */
const viewRequest = z
  .object({
    by: custodianId,
    state: z.enum(['open', 'all']).default('open'),
    limit: z.number().int().min(1).max(MAX_REVIEW_PAGE).default(100),
    /** The `next` of the previous page. */
    after: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be the `next` of the previous page')
      .optional(),
  })
  .strict();

/** Every check failed names its reason; `verified` is true only when there are none. */
const verdict = { verified: z.boolean(), problems: z.array(text).max(MAX_PROBLEMS) };

/** One signed entry behind an incident or alarm, as checked on this machine. */
export const reviewEntryViewSchema = z.object({
  seq: count.nullable(),
  type: text,
  time: count.nullable(),
  /** The acting custodian's id, and their name when this vault's roster knows them. */
  actor: text.nullable(),
  actorName: text.nullable(),
  /** Which half the step used or checked out, when it is about one. */
  half: z.enum(['password', 'mfa']).nullable(),
  /** The reason, note or message the entry carries (what a person typed), when it has one. */
  reason: text.nullable(),
  hash: text,
  /** Keys that signed it (device first). */
  signers: z.array(hex64).max(16),
  ...verdict,
});
export type ReviewEntryView = z.infer<typeof reviewEntryViewSchema>;

/** A stored acknowledgement as checked here: the signed review and where the server logged it. */
export const acknowledgementViewSchema = z.object({
  review: reviewBodySchema,
  /** The reviewer's name when this vault's roster knows their key. */
  reviewerName: text.nullable(),
  hash: hex64,
  logIndex: count,
  receivedAt: count,
  ...verdict,
});
export type AcknowledgementView = z.infer<typeof acknowledgementViewSchema>;

const itemState = z.enum(['open', 'acknowledged']);
const itemFields = {
  device: text,
  state: itemState,
  entries: z.array(reviewEntryViewSchema).max(MAX_ITEM_ENTRIES),
  acknowledgement: acknowledgementViewSchema.nullable(),
  /** This reviewer's own key signed an entry behind it: they may not acknowledge it. */
  ownKeySigned: z.boolean(),
  ...verdict,
};

export const incidentViewSchema = z.object({
  id: text,
  vault: text,
  session: text,
  account: text.nullable(),
  reference: text.nullable(),
  reason: text.nullable(),
  severity: text.nullable(),
  outcome: text.nullable(),
  openedAt: count,
  updatedAt: count,
  ...itemFields,
});
export type IncidentView = z.infer<typeof incidentViewSchema>;

export const alarmViewSchema = z.object({
  id: text,
  kind: z.enum(ALARM_KINDS),
  seq: count.nullable(),
  message: text,
  raisedAt: count,
  ...itemFields,
});
export type AlarmView = z.infer<typeof alarmViewSchema>;

const viewHead = z.object({
  serverFingerprint: z.string(),
  /** The answer's signed tree head (null when the server's log is empty). */
  treeHead: treeHeadSchema.nullable(),
  /** Why the answer's tree head is not trusted; every item then fails with it. */
  headProblem: text.nullable(),
  next: z.string().nullable(),
});

/** `review:*` channels: a reviewer's sign-in to the central server and what they fetch there. */
export const reviewChannels = {
  /**
   * Signs in to the server this vault enrolled with as reviewer `by` (challenge–response with
   * their custodian key), downloads the org-wide export to `out` and verifies it under the server
   * key pinned at enrolment. A file that does not verify is kept as evidence: `report.ok` says so.
   */
  'review:export': {
    request: z.object({ by: custodianId, out: outPath }).strict(),
    response: z.object({ out: z.string(), serverFingerprint: z.string(), report: serverExportReportSchema }),
  },
  /**
   * The server's break-glass incidents (open ones by default), each with the signed entries behind
   * it, every one checked on this machine under the pinned server key: the tree head's signature,
   * each entry's hash and signatures and its receipt's inclusion. An item that fails says why.
   */
  'review:incidents': {
    request: viewRequest,
    response: viewHead.extend({ incidents: z.array(incidentViewSchema).max(MAX_REVIEW_PAGE) }),
  },
  /** The server's alarms (fork, rollback, both halves out, a silent device, …), checked as incidents are. */
  'review:alarms': {
    request: viewRequest,
    response: viewHead.extend({ alarms: z.array(alarmViewSchema).max(MAX_REVIEW_PAGE) }),
  },
  /**
   * Acknowledges an incident or alarm with a review signed by reviewer `by`'s key. Refused before
   * anything is sent when the reviewer's own key signed an entry behind it (their own break-glass)
   * or when its evidence does not verify. `already` is true when it was acknowledged before: the
   * acknowledgement returned is then the first one.
   */
  'review:acknowledge': {
    request: z
      .object({
        by: custodianId,
        subject: reviewSubjectSchema,
        finding: z.enum(REVIEW_FINDINGS),
        rotationDone: z.boolean(),
        text: reviewBodySchema.shape.text,
      })
      .strict(),
    response: z.object({ acknowledgement: acknowledgementViewSchema, already: z.boolean() }),
  },
} as const;
