import { mkdirSync } from 'node:fs';
import type { ResponseOf } from '../../shared/api/contract';
import { BreakGlassHost } from '../break-glass/break-glass-host';
import type { Clipboard } from '../custody/clipboard';
import { CustodyHost } from '../custody/custody-host';
import { JournalService } from '../journal/journal-service';
import { ReviewService } from '../review/review-service';
import { SyncService } from '../sync/sync-service';
import { openKeytarKeychain } from '../keychain/keytar-keychain';
import { VaultSession } from '../vault/vault-session';

export type AppStatus = ResponseOf<'app:status'>;

/**
 * The main process's services for one vault folder, shared by the Electron adapter, the preview
 * adapter and the CLI. Each service adds itself here (vault, journal, sync, review) and reports
 * its part of app:status. Key material stays inside these services; it never reaches a log.
 */
export interface AppServices {
  readonly mode: AppStatus['mode'];
  readonly vaultDir: string;
  readonly version: string;
  /** The signed journal of the open vault (attached when VaultSession opens one). */
  readonly journal: JournalService;
  /** Accounts, halves, checkouts of the open vault (attached when VaultSession opens one). */
  readonly custody: CustodyHost;
  /** Break-glass sessions of the open vault (attached after custody). */
  readonly breakGlass: BreakGlassHost;
  /** The folder's vault: `current()` is the open Vault or null. */
  readonly vault: VaultSession;
  /** Upload of the open vault's journal to the central server (attached with the vault). */
  readonly sync: SyncService;
  /** A reviewer's sign-in to the central server and its org-wide export. */
  readonly review: ReviewService;
  status(): AppStatus;
  close(): Promise<void>;
}

export interface AppServicesOptions {
  /**
   * Who runs these services. `cli` (one `halfkey` command) differs in four ways: nothing opens
   * until a call asks (vault:open, vault:create, vault:recover), the folder is not created up
   * front, sync runs only when asked (no background loop), and the journal session says
   * `client: cli` and the command.
   */
  readonly mode: AppStatus['mode'];
  /** Folder holding vault.db; created if missing (except in `cli` mode: vault:create makes it). */
  readonly vaultDir: string;
  /** In `cli` mode, the command words recorded in the journal session (never an argument: those may be secret). */
  readonly command?: string;
  readonly version?: string;
  /** Idle time before an unlocked custodian is locked again (default 5 min). */
  readonly idleLockMs?: number;
  /** The system clipboard, injected by electron/main/ (the preview and the CLI have none). */
  readonly clipboard?: Clipboard;
  /** The Electron build of better-sqlite3, injected by electron/main/ (Node adapters pass none). */
  readonly nativeBinding?: string;
}

export async function openAppServices(options: AppServicesOptions): Promise<AppServices> {
  const cli = options.mode === 'cli';
  if (!cli) mkdirSync(options.vaultDir, { recursive: true, mode: 0o700 });
  const version = options.version ?? '0.1.0';
  const journal = new JournalService();
  const custody = new CustodyHost();
  const breakGlass = new BreakGlassHost();
  const sync = new SyncService(cli ? { background: false } : {});
  const session = cli ? { client: 'cli', ...(options.command === undefined ? {} : { command: options.command }) } : { client: 'app' };
  const vault = new VaultSession(options.vaultDir, () => openKeytarKeychain(), {
    ...(options.idleLockMs === undefined ? {} : { idleLockMs: options.idleLockMs }),
    ...(options.nativeBinding === undefined ? {} : { nativeBinding: options.nativeBinding }),
    opened: async (v) => {
      journal.attach(v.journal, v.device.signer, { heartbeat: true, session });
      const custodyService = await custody.attach(v, options.clipboard === undefined ? {} : { clipboard: options.clipboard });
      await breakGlass.attach(v, custodyService);
      sync.attach({ db: v.db, journal: v.journal, signer: v.device.signer });
    },
    closing: async () => {
      await sync.detach();
      breakGlass.detach();
      await custody.detach();
      journal.detach('vault closed');
    },
  });
  const review = new ReviewService(() => vault.require(), sync);
  // No keychain entry or no keychain leaves the vault closed: status says locked, vault:open/recover explain.
  if (!cli) await vault.tryOpen();
  return {
    mode: options.mode,
    vaultDir: options.vaultDir,
    version,
    journal,
    custody,
    breakGlass,
    vault,
    sync,
    review,
    status: () => ({
      version,
      mode: options.mode,
      vault: vault.status(),
      journal: journal.status(),
      sync: (({ state, pending, lastError, serverFingerprint }) => ({ state, pending, lastError, serverFingerprint }))(sync.status()),
    }),
    close: async () => {
      await sync.detach();
      await vault.close();
      breakGlass.detach();
      await custody.detach();
      journal.detach('app closed');
    },
  };
}
