import { z } from 'zod';

/** `app:*` channels: the shell's status and identity. */
export const appChannels = {
  'app:status': {
    request: z.object({}).strict(),
    response: z.object({
      version: z.string(),
      /** Which adapter's services these are: the desktop app, the browser preview, or one `halfkey` command. */
      mode: z.enum(['electron', 'preview', 'cli']),
      vault: z.object({
        state: z.enum(['none', 'locked', 'unlocked']),
        id: z.string().nullable(),
        keychainBackend: z.string().nullable(),
      }),
      journal: z.object({ seq: z.number().int().nullable(), hash: z.string().nullable() }),
      sync: z.object({
        state: z.enum(['not-enrolled', 'idle', 'syncing', 'offline', 'error']),
        pending: z.number().int(),
        lastError: z.string().nullable(),
        serverFingerprint: z.string().nullable(),
      }),
    }),
  },
} as const;
