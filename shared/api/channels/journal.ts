import { z } from 'zod';
import { FAILURE_CODES } from '../../journal/verifier';

const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** A journal entry as the UI sees it: exactly the signed entry (entries never hold secrets). */
export const journalEntrySchema = z.object({
  v: z.literal(1),
  vault: z.string(),
  device: z.string(),
  seq,
  prev: z.string(),
  time: z.number().int(),
  type: z.string(),
  actor: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  hash: z.string(),
  sigs: z.array(z.object({ key: z.string(), sig: z.string() })),
});

const failureSchema = z.object({
  seq: seq.nullable(),
  code: z.enum(FAILURE_CODES as unknown as [string, ...string[]]),
  reason: z.string(),
});

/** Absolute path of a file to write, with the extension its kind requires. */
const outPath = (ext: string) =>
  z
    .string()
    .min(2)
    .max(4096)
    .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path')
    .refine((p) => p.toLowerCase().endsWith(ext), `must end with ${ext}`)
    .refine((p) => !p.includes('\0'), 'must not contain NUL');

/** `journal:*` channels: the signed journal's head, entries, verification and export. */
export const journalChannels = {
  'journal:head': {
    request: z.object({}).strict(),
    response: z.object({ vaultId: z.string().nullable(), seq: seq.nullable(), hash: hex64.nullable(), size: seq }),
  },
  'journal:list': {
    request: z
      .object({
        from: seq.optional(),
        to: seq.optional(),
        /** Paging cursor: the last seq of the previous page. */
        after: seq.optional(),
        type: z.string().max(128).optional(),
        actor: z.string().max(256).optional(),
        account: z.string().max(256).optional(),
        since: z.number().int().optional(),
        until: z.number().int().optional(),
        limit: z.number().int().min(1).max(500).default(100),
      })
      .strict(),
    response: z.object({ entries: z.array(journalEntrySchema), nextAfter: seq.nullable() }),
  },
  'journal:verify': {
    request: z.object({}).strict(),
    response: z.object({
      ok: z.boolean(),
      entries: seq,
      head: z.object({ seq, hash: hex64 }).nullable(),
      lastCheckpoint: z.object({ seq, time: z.number().int() }).nullable(),
      uncleanSessions: seq,
      receiptsChecked: seq,
      failureCount: seq,
      failures: z.array(failureSchema),
    }),
  },
  'journal:export': {
    request: z
      .object({
        out: outPath('.hkj'),
        from: seq.optional(),
        to: seq.optional(),
        csv: outPath('.csv').optional(),
        pdf: outPath('.pdf').optional(),
      })
      .strict()
      .refine((r) => r.to === undefined || r.to >= (r.from ?? 0), { path: ['to'], message: 'must be at or after from' }),
    response: z.object({
      bundle: z.string(),
      csv: z.string().nullable(),
      pdf: z.string().nullable(),
      head: z.object({ seq, hash: hex64 }),
      complete: z.boolean(),
    }),
  },
  /** The running export's progress (the last export's, once done; null before any or after a failure), for the UI to poll. */
  'journal:export-progress': {
    request: z.object({}).strict(),
    response: z.object({ phase: z.enum(['entries', 'pdf', 'done']), done: seq, total: seq }).nullable(),
  },
} as const;
