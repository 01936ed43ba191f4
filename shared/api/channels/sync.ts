import { z } from 'zod';

/** What the UI shows about sync: queue, last outcome, and the pinned server's fingerprint (never a secret). */
export const syncStatusSchema = z.object({
  state: z.enum(['not-enrolled', 'idle', 'syncing', 'offline', 'error']),
  pending: z.number().int().nonnegative(),
  lastError: z.string().nullable(),
  serverFingerprint: z.string().nullable(),
  serverUrl: z.string().nullable(),
  ackedSeq: z.number().int().nullable(),
  lastSuccessAt: z.number().int().nullable(),
  lastTreeSize: z.number().int().nullable(),
  nextAttemptAt: z.number().int().nullable(),
  /** The latest time the device found the server's signed log inconsistent with a head it held (a journal entry records it). */
  serverLogInconsistency: z
    .object({
      code: z.literal('LOG_INCONSISTENT'),
      reason: z.enum(['LOG_SHRANK', 'ROOT_CHANGED', 'OLD_HEAD_MISSING', 'PROOF_INVALID']),
      message: z.string(),
      seq: z.number().int().nonnegative(),
      time: z.number().int(),
    })
    .strict()
    .nullable(),
});

/** `sync:*` channels: the journal's upload to the central server. */
export const syncChannels = {
  'sync:status': { request: z.object({}).strict(), response: syncStatusSchema },
  'sync:enrol': {
    request: z
      .object({
        url: z.string().url().max(2048),
        token: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'an enrolment token is 16–128 characters of A–Z, a–z, 0–9, _ and -'),
        /** The server key fingerprint given out of band: enrolment is refused unless the server presents it. */
        fingerprint: z
          .string()
          .regex(
            /^\s*(?:[0-9a-fA-F]\s*){32}$/,
            'a server key fingerprint is 32 hex digits (spaces allowed), as the server operator publishes it',
          )
          .optional(),
      })
      .strict(),
    response: syncStatusSchema,
  },
  'sync:now': { request: z.object({}).strict(), response: syncStatusSchema },
  /** After the server operator rotated its key: pin the key the server presents now, only if its fingerprint is the one given. */
  'sync:repin': {
    request: z
      .object({
        fingerprint: z
          .string()
          .regex(
            /^\s*(?:[0-9a-fA-F]\s*){32}$/,
            'a server key fingerprint is 32 hex digits (spaces allowed), as the server operator publishes it',
          ),
      })
      .strict(),
    response: syncStatusSchema,
  },
  /** The pinned server key's fingerprint as a QR code, for the out-of-band check with the server operator. */
  'sync:fingerprint-qr': {
    request: z.object({}).strict(),
    response: z.object({ fingerprint: z.string().nullable(), qrDataUrl: z.string().startsWith('data:image/png;base64,').nullable() }),
  },
} as const;
