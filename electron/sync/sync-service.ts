import { HalfkeyError } from '../../shared/api/result';
import type { EntrySigner } from '../../shared/journal/entry';
import type { Db } from '../base/database';
import { SyncClient, type SyncClientOptions, type SyncJournal, type SyncStatus } from './client';

const DETACHED: SyncStatus = {
  state: 'not-enrolled',
  pending: 0,
  lastError: null,
  serverFingerprint: null,
  serverUrl: null,
  ackedSeq: null,
  lastSuccessAt: null,
  lastTreeSize: null,
  nextAttemptAt: null,
  serverLogInconsistency: null,
};

/**
 * Sync as the API and the app see it: openAppServices attaches the open vault (its database,
 * journal and device signer) and the background queue runs while it stays open.
 */
export class SyncService {
  private client: SyncClient | null = null;

  constructor(
    private readonly options: Partial<Pick<SyncClientOptions, 'backoff' | 'intervalMs' | 'batchSize'>> & {
      readonly background?: boolean;
    } = {},
  ) {}

  attach(vault: { readonly db: Db; readonly journal: SyncJournal; readonly signer: EntrySigner }): void {
    void this.detach();
    const { background, ...tuning } = this.options;
    this.client = new SyncClient({ db: vault.db, journal: vault.journal, signer: vault.signer, ...tuning });
    if (background !== false) this.client.start();
  }

  async detach(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.stop();
  }

  status(): SyncStatus {
    return this.client?.status() ?? DETACHED;
  }

  /** The server the open vault enrolled with and its pinned key; null when not enrolled. */
  pinnedServer(): { readonly url: string; readonly key: string; readonly fingerprint: string } | null {
    return this.require().pinnedServer();
  }

  enroll(url: string, token: string, fingerprint?: string): Promise<SyncStatus> {
    return this.require().enroll(url, token, fingerprint);
  }

  now(): Promise<SyncStatus> {
    return this.require().syncNow();
  }

  /** Pins the server's rotated key when its fingerprint is the one given, then runs a round. */
  async repin(fingerprint: string): Promise<SyncStatus> {
    const client = this.require();
    await client.repin(fingerprint);
    return client.syncNow();
  }

  private require(): SyncClient {
    if (this.client === null) throw new HalfkeyError('VAULT_LOCKED', 'Open the vault first: sync works on the open vault’s journal.');
    return this.client;
  }
}
