import { mkdirSync } from 'node:fs';
import type { ResponseOf } from '../shared/api/contract';
import { JournalService } from './services/journal/journal-service';

export type AppStatus = ResponseOf<'app:status'>;

/**
 * The main process's services for one vault folder, shared by the Electron adapter, the preview
 * adapter and the CLI. Each service adds itself here (vault, journal, sync) and reports its part
 * of app:status. Key material stays inside these services; it never reaches a log.
 */
export interface AppServices {
  readonly mode: AppStatus['mode'];
  readonly vaultDir: string;
  readonly version: string;
  /** The signed journal of the open vault (attached by the vault service when it opens one). */
  readonly journal: JournalService;
  status(): AppStatus;
  close(): Promise<void>;
}

export interface AppServicesOptions {
  readonly mode: AppStatus['mode'];
  /** Folder holding vault.db; created if missing. */
  readonly vaultDir: string;
  readonly version?: string;
}

export async function openAppServices(options: AppServicesOptions): Promise<AppServices> {
  mkdirSync(options.vaultDir, { recursive: true, mode: 0o700 });
  const version = options.version ?? '0.1.0';
  const journal = new JournalService();
  return {
    mode: options.mode,
    vaultDir: options.vaultDir,
    version,
    journal,
    status: () => ({
      version,
      mode: options.mode,
      vault: { state: 'none', id: null, keychainBackend: null },
      journal: journal.status(),
      sync: { state: 'not-enrolled', pending: 0, lastError: null, serverFingerprint: null },
    }),
    close: async () => {
      journal.detach('app closed');
    },
  };
}
