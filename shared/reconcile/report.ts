import { z } from 'zod';
import { SKIP_REASONS } from './cloudtrail-record';
import { CUSTODY_EVENT_KINDS } from './custody-events';
import { FLAG_CODES } from './custody-rules';

/**
 * The reconciliation report: what `reconcile:run` answers, `halfkey reconcile --json` prints and
 * the CSV and PDF are written from. Defined once here as a schema, so the router checks every
 * answer against it and the types are derived from it. Never a secret: CloudTrail records hold
 * none the reconciliation keeps, and journal entries never hold one.
 */

const count = z.number().int().nonnegative();
const iso = z.string().max(40);
const text = (max: number) => z.string().max(max);
const place = { vault: text(64), device: text(64), seq: count };

export const checkoutRefSchema = z.object({
  ...place,
  checkout: text(64),
  account: text(12),
  item: z.enum(['password', 'mfa']),
  custodian: text(256).nullable(),
  custodianName: text(256).nullable(),
  reason: text(4096),
  ticket: text(1024).nullable(),
  hardwareToken: z.boolean(),
  openedAt: iso,
  endedAt: iso,
  ended: z.enum(['checked-in', 'lease-expired', 'open']),
});
export type CheckoutRef = z.infer<typeof checkoutRefSchema>;

export const breakGlassRefSchema = z.object({
  ...place,
  account: text(12),
  actor: text(256).nullable(),
  reason: text(4096),
  openedAt: iso,
  endedAt: iso,
  ended: z.enum(['closed', 'open']),
});
export type BreakGlassRef = z.infer<typeof breakGlassRefSchema>;

export const custodyChangeRefSchema = z.object({ ...place, account: text(12), type: text(128), time: iso, actor: text(256).nullable() });
export type CustodyChangeRef = z.infer<typeof custodyChangeRefSchema>;

export const VERDICTS = ['explained', 'half-explained', 'unexplained'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const findingSchema = z.object({
  eventId: text(128).nullable(),
  time: iso,
  account: text(12),
  accountAlias: text(256).nullable(),
  region: text(64),
  eventSource: text(128),
  eventName: text(128),
  sourceIp: text(128),
  userAgent: text(512),
  outcome: z.enum(['success', 'failure']),
  errorCode: text(128).nullable(),
  mfa: z.enum(['yes', 'no', 'unknown']),
  accessKey: z.enum(['long-term', 'temporary']).nullable(),
  /** The custody-relevant kind of action, when it is one of the named events (docs/reconciliation.md). */
  custodyEvent: z.enum(CUSTODY_EVENT_KINDS).nullable(),
  verdict: z.enum(VERDICTS),
  /** The checkouts out at the time (explained: both; half-explained: the one that was). */
  password: checkoutRefSchema.nullable(),
  mfaHalf: checkoutRefSchema.nullable(),
  breakGlass: breakGlassRefSchema.nullable(),
  /** Not explained: the nearest checkout of the half (or halves) missing, and how far the action was from its window. */
  nearest: z.object({ checkout: checkoutRefSchema, distanceMs: count }).nullable(),
  /** A password change: the pending rotation it confirms. An MFA change: the custody MFA change it matches. */
  matches: custodyChangeRefSchema.nullable(),
  flags: z.array(z.object({ code: z.enum(FLAG_CODES), message: z.string().max(512) })),
  file: text(4096),
  record: count,
});
export type Finding = z.infer<typeof findingSchema>;

const fileNote = z.object({ path: text(4096), reason: text(1024) });

export const reconcileReportSchema = z.object({
  /** True only when nothing needs a reviewer: see `attention`. */
  ok: z.boolean(),
  journal: z.object({
    kind: z.enum(['bundle', 'server-export']),
    path: text(4096),
    entries: count,
    devices: count,
    accounts: z.array(z.object({ account: text(12), alias: text(256).nullable() })),
    checkouts: count,
    breakGlassSessions: count,
  }),
  slackSeconds: count,
  counts: z.object({
    files: count,
    filesRead: count,
    filesBad: count,
    filesIgnored: count,
    digestFiles: count,
    records: count,
    otherRecords: count,
    rootRecords: count,
    rootEvents: count,
    duplicateRootRecords: count,
    skippedRecords: count,
    workers: count,
  }),
  skippedByReason: z.array(z.object({ reason: z.enum(SKIP_REASONS), count })),
  summary: z.object({
    explained: count,
    halfExplained: count,
    unexplained: count,
    failedSignIns: count,
    failedSignInsUnexplained: count,
    flagged: count,
    unusedCheckouts: count,
    rotationsNotSeen: count,
  }),
  /** What makes `ok` false, one line each, in the order docs/reconciliation.md explains them. */
  attention: z.array(text(512)),
  /** Every root action but failed sign-ins, by time. */
  findings: z.array(findingSchema),
  failedSignIns: z.array(findingSchema),
  unusedCheckouts: z.array(z.object({ checkout: checkoutRefSchema, coverage: z.enum(['covered', 'partly-covered', 'not-covered']) })),
  /** Pending password rotations no password change at AWS confirmed, and whether the logs cover the time after them. */
  rotationsNotSeen: z.array(z.object({ rotation: custodyChangeRefSchema, covered: z.boolean() })),
  coverage: z.array(z.object({ account: text(12), from: iso, to: iso })),
  badFiles: z.array(fileNote),
  ignoredFiles: z.array(fileNote),
  skippedRecords: z.array(
    z.object({ file: text(4096), record: count, eventId: text(128).nullable(), reason: z.enum(SKIP_REASONS), detail: text(512) }),
  ),
});
export type ReconcileReport = z.infer<typeof reconcileReportSchema>;
