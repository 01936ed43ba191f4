import { HalfkeyError } from '../../shared/api/result';
import type { Keychain } from '../keychain/keychain';
import { recoveryCandidates, type PresentCustodian, type RecoveryCandidate } from './recovery';
import { Vault, vaultExists, type VaultCreateInit, type VaultSessionOptions } from './vault';

/** The vault part of app:status: none (no vault file), locked (no custodian unlocked, or the vault not open), unlocked. */
export interface VaultStatus {
  readonly state: 'none' | 'locked' | 'unlocked';
  readonly id: string | null;
  readonly keychainBackend: string | null;
}

export interface VaultSessionHooks {
  /** Called after a vault opens (e.g. to attach its journal). */
  readonly opened?: (vault: Vault) => void | Promise<void>;
  /** Called before the open vault closes. */
  readonly closing?: (vault: Vault) => void | Promise<void>;
}

/**
 * Holds the app's one open vault for its folder. The keychain is opened on first need, so an
 * app without a Secret Service still starts and reports the problem on the first vault call.
 */
export class VaultSession {
  private vault: Vault | null = null;
  private keychain: Keychain | null = null;

  constructor(
    readonly dir: string,
    private readonly openKeychain: () => Promise<Keychain>,
    private readonly options: VaultSessionOptions & VaultSessionHooks = {},
  ) {}

  /** The open vault, or null. */
  current(): Vault | null {
    return this.vault;
  }

  /** The open vault, or a HalfkeyError saying how to get one. */
  require(): Vault {
    if (this.vault !== null) return this.vault;
    if (!vaultExists(this.dir)) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'There is no vault yet; create one first (vault:create).');
    throw new HalfkeyError(
      'VAULT_LOCKED',
      'The vault is not open; open it (vault:open), or restore access with the recovery key (vault:recover).',
    );
  }

  /** Creates the vault; returns the recovery key once. */
  async create(init: VaultCreateInit): Promise<{ vault: Vault; recoveryKey: string; adminId: string }> {
    if (this.vault !== null) throw new HalfkeyError('CONFLICT', 'A vault is already open in this folder.');
    const created = await Vault.create(this.dir, await this.keychainNow(), init, this.options);
    await this.adopt(created.vault);
    return created;
  }

  /** Opens the folder's vault (no-op when open). */
  async open(): Promise<Vault> {
    if (this.vault !== null) return this.vault;
    const vault = await Vault.open(this.dir, await this.keychainNow(), this.options);
    await this.adopt(vault);
    return vault;
  }

  /** Restores access with the recovery key and two custodians present (recovery.ts), and opens the vault. */
  async recover(recoveryKey: string, present: readonly PresentCustodian[]): Promise<Vault> {
    if (this.vault !== null)
      throw new HalfkeyError(
        'CONFLICT',
        'The vault is already open on this machine; recovery is for a machine whose keychain lost the device key.',
      );
    const vault = await Vault.recover(this.dir, await this.keychainNow(), recoveryKey, present, this.options);
    await this.adopt(vault);
    return vault;
  }

  /** The custodians who may take part in a recovery (the recovery screen's choices); readable while the vault is closed. */
  recoveryRoster(): RecoveryCandidate[] {
    if (this.vault !== null) return recoveryCandidates(this.vault.db);
    return Vault.recoveryRoster(this.dir, this.options);
  }

  /** Opens the vault if one exists and the keychain has its key; otherwise stays closed and says why. */
  async tryOpen(): Promise<HalfkeyError | null> {
    if (!vaultExists(this.dir)) return null;
    try {
      await this.open();
      return null;
    } catch (error) {
      if (error instanceof HalfkeyError) return error;
      throw error;
    }
  }

  status(): VaultStatus {
    const vault = this.vault;
    if (vault === null)
      return { state: vaultExists(this.dir) ? 'locked' : 'none', id: null, keychainBackend: this.keychain?.backend ?? null };
    return {
      state: vault.custodians.unlockedIds().length > 0 ? 'unlocked' : 'locked',
      id: vault.id,
      keychainBackend: vault.keychainBackend,
    };
  }

  /** Closes the vault, zeroing every key in memory. */
  async close(): Promise<void> {
    const vault = this.vault;
    if (vault === null) return;
    this.vault = null;
    try {
      await this.options.closing?.(vault);
    } finally {
      vault.close();
    }
  }

  /** Makes vault the open one; if a hook fails the vault is closed again, so nothing half-opens. */
  private async adopt(vault: Vault): Promise<void> {
    this.vault = vault;
    try {
      await this.options.opened?.(vault);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  private async keychainNow(): Promise<Keychain> {
    this.keychain ??= await this.openKeychain();
    return this.keychain;
  }
}
