import { z } from 'zod';
import { FAILURE_CODES, type FailureCode } from '../../journal/verifier';
import { treeHeadSchema } from '../../sync/receipt';
import { REVIEW_FINDINGS, reviewSubjectSchema } from '../../sync/review-wire';
import { SERVER_EXPORT_FORMAT, type ServerExportFailureCode } from '../../sync/server-export';

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
} as const;
