import { z } from 'zod';
import { reconcileReportSchema } from '../../reconcile/report';

/** Absolute path (POSIX or Windows), bounded, no NUL; optionally with the extension its kind needs. */
const absolutePath = (ext?: string) =>
  z
    .string()
    .min(2)
    .max(4096)
    .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path')
    .refine((p) => !p.includes('\0'), 'must not contain NUL')
    .refine((p) => ext === undefined || p.toLowerCase().endsWith(ext), `must end with ${ext ?? ''}`);
const serverKey = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');

/** `reconcile:*`: CloudTrail's record of root use set against the custody journal (docs/reconciliation.md). */
export const reconcileChannels = {
  'reconcile:run': {
    request: z
      .object({
        /** The journal to reconcile against; it is verified first, and refused if it does not verify. */
        journal: z.discriminatedUnion('kind', [
          /** A device's journal bundle; `serverKeys` pins the keys its receipts may be under. */
          z.object({ kind: z.literal('bundle'), path: absolutePath(), serverKeys: z.array(serverKey).max(16).optional() }).strict(),
          /** The server's org-wide reviewer export, checked against the server key pinned at enrolment. */
          z.object({ kind: z.literal('server-export'), path: absolutePath(), serverKey }).strict(),
        ]),
        /** CloudTrail log files or folders (read recursively), and lookup-events output files. */
        cloudtrail: z.array(absolutePath()).min(1).max(4096),
        /** Allowance for clock skew at both ends of every window, in seconds (default 5 minutes). */
        slackSeconds: z
          .number()
          .int()
          .min(0)
          .max(24 * 3600)
          .default(300),
        /** Worker threads that read the logs (default: one per core; 0 reads on the calling thread). */
        workers: z.number().int().min(0).max(64).optional(),
        csv: absolutePath('.csv').optional(),
        pdf: absolutePath('.pdf').optional(),
      })
      .strict(),
    response: reconcileReportSchema.extend({ written: z.object({ csv: z.string().nullable(), pdf: z.string().nullable() }) }),
  },
} as const;
