import { z } from 'zod';
import { awsAccountIdSchema } from './custody';

// Break-glass: the emergency root sign-in of one account on one workstation, with no server
// (docs/break-glass.md). A session names an incident; the password custodian and the MFA
// custodian each use their own half, present (passphrase within the presence window), in that
// order; the session closes with an outcome, after which both halves used are due for rotation
// until the two-phase rotation of each is confirmed. Every step is a `break-glass.*` journal entry.

const noControl = /^[^\p{Cc}]*$/u;
const custodianId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'a custodian id is letters, digits, - and _');
const sessionId = z.string().regex(/^[0-9a-f]{32}$/, 'a break-glass session id is 32 lowercase hex characters');
const requiredText = (max: number) =>
  z.string().trim().min(1, 'required').max(max, `at most ${max} characters`).regex(noControl, 'control characters are not allowed');

/** Where a file goes on this machine: an absolute path (POSIX or Windows) ending in `ext`, bounded, no NUL. */
const absoluteFile = (ext: string) =>
  z
    .string()
    .max(4096, 'at most 4096 characters')
    .refine((p) => /^(\/|[A-Za-z]:[\\/])/.test(p), 'must be an absolute path (the folder and the file name, e.g. /home/me/runbook.pdf)')
    .refine((p) => !p.includes('\0'), 'must not contain NUL')
    .refine((p) => p.toLowerCase().endsWith(ext) && p.length > ext.length + 1, `must be a file name ending in ${ext}`);

export const breakGlassSeveritySchema = z.enum(['critical', 'high', 'medium', 'low']);
export const breakGlassOutcomeSchema = z.enum(['resolved', 'aborted']);
/** Where a session is: each step moves it on, in this order only. */
export const breakGlassStateSchema = z.enum(['opened', 'password-used', 'mfa-used', 'closed']);
/** A used half's rotation after the session: due (nothing written), pending (rotated, awaiting confirmation), done (confirmed). */
export const breakGlassRotationSchema = z.enum(['not-needed', 'due', 'pending', 'done']);

/** The incident a session is opened for, as the person types it. */
export const breakGlassIncidentSchema = z
  .object({
    /** The incident's reference in the organisation's tracker (INC-1234), or any short name. */
    reference: requiredText(100),
    /** Why the root user is needed: what is broken and why no administrator can fix it. */
    reason: requiredText(1000),
    severity: breakGlassSeveritySchema,
  })
  .strict();

const usedHalfSchema = z.object({
  custodianId: z.string(),
  custodianName: z.string(),
  checkoutId: z.string(),
  usedAt: z.number().int(),
  generation: z.number().int(),
  /** The break-glass checkout is still open (not checked in, lease not run out). */
  checkoutOpen: z.boolean(),
  leaseUntil: z.number().int(),
});

/** A session as anyone may see it: no secret. */
export const breakGlassSessionSchema = z.object({
  sessionId: z.string(),
  accountId: z.string(),
  alias: z.string(),
  reference: z.string(),
  reason: z.string(),
  severity: breakGlassSeveritySchema,
  leaseMinutes: z.number().int(),
  state: breakGlassStateSchema,
  /** Set when the app stopped without closing cleanly during the session (killed, power lost) and nobody has resumed it yet. */
  interruptedAt: z.number().int().nullable(),
  openedAt: z.number().int(),
  openedBy: z.string(),
  openedByName: z.string(),
  password: usedHalfSchema.nullable(),
  mfa: usedHalfSchema.nullable(),
  closedAt: z.number().int().nullable(),
  closedBy: z.string().nullable(),
  outcome: breakGlassOutcomeSchema.nullable(),
  note: z.string().nullable(),
  /** After closing: each half's rotation; `done` once every used half's rotation is confirmed. Null while open. */
  rotation: z
    .object({ password: breakGlassRotationSchema, mfa: breakGlassRotationSchema, done: z.boolean(), doneAt: z.number().int().nullable() })
    .nullable(),
  /** What to do now, for the screen and the CLI. */
  next: z.enum(['resume', 'use-password', 'use-mfa', 'close', 'rotate', 'done']),
});
export type BreakGlassSession = z.output<typeof breakGlassSessionSchema>;

/** A custodian the runbook names as holding a half. */
const runbookHolderSchema = z.object({ custodianId: z.string(), name: z.string(), organisation: z.string() });

export const breakGlassChannels = {
  /** Opens a session for an account (by a custodian of one of its halves or an admin, present); one open session per account. */
  'break-glass:open': {
    request: z
      .object({
        by: custodianId,
        accountId: awsAccountIdSchema,
        incident: breakGlassIncidentSchema,
        /** The lease of each half's break-glass checkout, in minutes (default 60). */
        leaseMinutes: z.number().int().min(5, 'at least 5 minutes').max(480, 'at most 8 hours').default(60),
      })
      .strict(),
    response: breakGlassSessionSchema,
  },
  /** Sessions, newest first: open ones only unless `open` is false; no custodian needs to be unlocked. */
  'break-glass:list': {
    request: z
      .object({
        accountId: awsAccountIdSchema.optional(),
        open: z.boolean().default(true),
        limit: z.number().int().min(1).max(500).default(50),
      })
      .strict(),
    response: z.object({ sessions: z.array(breakGlassSessionSchema) }),
  },
  'break-glass:get': {
    request: z.object({ sessionId }).strict(),
    response: breakGlassSessionSchema,
  },
  /**
   * The password custodian, present, uses the password half: a checkout flagged break-glass, and the
   * password shown to them until `expiresAt` (reveal it again with custody:reveal on `checkoutId`).
   */
  'break-glass:use-password': {
    request: z.object({ by: custodianId, sessionId, seconds: z.number().int().min(1).max(600).default(60) }).strict(),
    // Carries a secret: the password custodian asked to see it.
    response: z.object({ session: breakGlassSessionSchema, checkoutId: z.string(), password: z.string(), expiresAt: z.number().int() }),
  },
  /** The MFA custodian (another person), present, uses the MFA half: a checkout flagged break-glass and the current code; later codes with custody:totp-code. */
  'break-glass:use-mfa': {
    request: z.object({ by: custodianId, sessionId }).strict(),
    response: z.object({
      session: breakGlassSessionSchema,
      checkoutId: z.string(),
      code: z.string(),
      remainingMs: z.number().int(),
      period: z.number().int(),
      digits: z.number().int(),
    }),
  },
  /** Closes a session with its outcome (`resolved` needs both halves used); both used halves become due for rotation. */
  'break-glass:close': {
    request: z.object({ by: custodianId, sessionId, outcome: breakGlassOutcomeSchema, note: requiredText(2000) }).strict(),
    response: breakGlassSessionSchema,
  },
  /** Takes up a session the app was stopped in (killed, power lost), present; the ceremony continues where it was. */
  'break-glass:resume': {
    request: z.object({ by: custodianId, sessionId }).strict(),
    response: breakGlassSessionSchema,
  },
  /**
   * Writes the runbook of one account as a PDF (docs/break-glass.md's procedure, with the account
   * in every command, and who holds which half: names and organisations only). No custodian needs
   * to be unlocked: the sheet holds no secret. Written beside `out` and renamed over it.
   */
  'break-glass:runbook': {
    request: z.object({ accountId: awsAccountIdSchema, out: absoluteFile('.pdf') }).strict(),
    response: z.object({
      out: z.string(),
      bytes: z.number().int(),
      accountId: z.string(),
      alias: z.string(),
      holders: z.object({ password: z.array(runbookHolderSchema), mfa: z.array(runbookHolderSchema) }),
    }),
  },
} as const;
