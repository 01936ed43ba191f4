import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HalfkeyError } from '../../shared/api/result';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { migrate, openDatabase, type Db } from '../base/database';
import { JournalStore } from '../journal/store';
import type { Keychain } from '../keychain/keychain';
import { CustodianDirectory, DEFAULT_IDLE_LOCK_MS, type LockAllReason } from './custodians';
import { deriveDeviceKeys, deviceAccount, newDeviceMaster, readDeviceMaster, writeDeviceMaster, type HeldDeviceKeys } from './device-key';
import { checkPassphraseStrength } from './passphrase';
import { ProposalService } from '../proposals/proposal-service';
import { enrolmentChange, revocationChange } from './roster-changes';
import { acquireVaultLock, VAULT_LOCK_FILE, type VaultLock } from './vault-lock';
import { newRecoveryKey, parseRecoveryKey, unwrapDeviceMaster, wrapDeviceMaster } from './recovery-key';
import { applyRecovery, recoveryCandidates, recoveryPair, type PresentCustodian, type RecoveryCandidate } from './recovery';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
/** The vault database's file name inside a vault folder. */
export const VAULT_FILE = 'vault.db';

/** Knobs for a session; the defaults are the product's, tests shorten them. */
export interface VaultSessionOptions {
  /** Idle time before an unlocked custodian is locked again (default 5 min). */
  readonly idleLockMs?: number;
  readonly now?: () => number;
  /** The Electron build of better-sqlite3, from electron/main (base/native-binding.ts); Node code passes none. */
  readonly nativeBinding?: string;
}

export interface VaultCreateInit {
  readonly admin: { readonly name: string; readonly organisation: string; readonly passphrase: string };
  readonly options?: { readonly separateOrganisations?: boolean };
}

interface MetaRow {
  vault_id: string;
  keychain_backend: string;
  device_public_key: string;
  recovery_wrapped: Uint8Array;
  separate_organisations: number;
}

/** True when the folder holds a vault database. */
export function vaultExists(dir: string): boolean {
  return existsSync(join(dir, VAULT_FILE));
}

function readMeta(db: Db): MetaRow {
  const row = db.prepare('SELECT * FROM vault_meta WHERE id = 1').get() as MetaRow | undefined;
  if (row === undefined)
    throw new HalfkeyError('VAULT_NOT_INITIALISED', 'This vault file has no vault in it; create one with vault:create or `halfkey init`.');
  return row;
}

/** Opens an existing vault's database for writing, holding its single-writer lock (released by close()). */
function openVaultDb(dir: string, session: VaultSessionOptions): { db: Db; lock: VaultLock } {
  if (!vaultExists(dir))
    throw new HalfkeyError('VAULT_NOT_INITIALISED', `There is no vault in ${dir}; create one with vault:create or 'halfkey init'.`);
  const binding = { nativeBinding: session.nativeBinding };
  const lock = acquireVaultLock(dir, binding);
  try {
    const db = openDatabase(join(dir, VAULT_FILE), binding);
    try {
      migrate(db, 'vault', MIGRATIONS);
    } catch (error) {
      db.close();
      throw error;
    }
    return { db, lock };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * An open vault: its SQLite file, its journal, its device keys (from the OS keychain) and its
 * custodians. Every secret column is sealed under the device key with the row bound as AAD.
 * One process writes a vault at a time: an open Vault holds the folder's lock (vault-lock.ts)
 * until close(), so two writers never interleave sessions in one journal.
 */
export class Vault {
  readonly custodians: CustodianDirectory;
  /** Two-person changes (enrol, revoke, assign, …): proposed by one custodian, applied when a second approves. */
  readonly proposals: ProposalService;
  readonly options: { readonly separateOrganisations: boolean };
  readonly keychainBackend: string;

  private constructor(
    private readonly writerLock: VaultLock,
    readonly db: Db,
    readonly journal: JournalStore,
    readonly device: HeldDeviceKeys,
    readonly id: string,
    meta: MetaRow,
    sodium: Sodium,
    session: VaultSessionOptions,
  ) {
    this.options = { separateOrganisations: meta.separate_organisations === 1 };
    this.keychainBackend = meta.keychain_backend;
    this.custodians = new CustodianDirectory({
      db,
      device,
      journal,
      sodium,
      now: session.now ?? Date.now,
      idleLockMs: session.idleLockMs ?? DEFAULT_IDLE_LOCK_MS,
    });
    this.proposals = new ProposalService({ db, vaultId: id, journal, custodians: this.custodians, sodium, now: session.now ?? Date.now });
    this.proposals.register('custodian.enrolled', enrolmentChange(this.custodians));
    this.proposals.register('custodian.revoked', revocationChange(this.custodians));
  }

  /**
   * Creates a vault in dir: device master into the keychain, the first admin, the recovery key
   * (returned once, never stored in the clear). Nothing is left behind if any step fails.
   */
  static async create(
    dir: string,
    keychain: Keychain,
    init: VaultCreateInit,
    session: VaultSessionOptions = {},
  ): Promise<{ vault: Vault; recoveryKey: string; adminId: string }> {
    const sodium = await sodiumReady();
    if (vaultExists(dir)) throw new HalfkeyError('CONFLICT', `${dir} already holds a vault; open it, or choose an empty folder.`);
    // Checked again at enrolment; checking first means a weak passphrase touches neither keychain nor disk.
    checkPassphraseStrength(init.admin.passphrase, init.admin);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const vaultId = sodium.to_hex(sodium.randombytes_buf(16));
    const master = newDeviceMaster(sodium);
    const recovery = newRecoveryKey(sodium);
    const device = deriveDeviceKeys(vaultId, master, sodium);
    const wrapped = wrapDeviceMaster(master, recovery.bytes, vaultId, sodium);
    sodium.memzero(recovery.bytes);
    let db: Db | null = null;
    let lock: VaultLock | null = null;
    let stored = false;
    try {
      lock = acquireVaultLock(dir, { nativeBinding: session.nativeBinding });
      // Checked again under the lock: another process may have created it since.
      if (vaultExists(dir)) throw new HalfkeyError('CONFLICT', `${dir} already holds a vault; open it, or choose an empty folder.`);
      await writeDeviceMaster(keychain, vaultId, master, sodium);
      stored = true;
      db = openDatabase(join(dir, VAULT_FILE), { nativeBinding: session.nativeBinding });
      migrate(db, 'vault', MIGRATIONS);
      const separate = init.options?.separateOrganisations ?? false;
      const journal = JournalStore.open(db, { deviceSigner: device.signer, ...(session.now ? { now: session.now } : {}) });
      const meta: MetaRow = {
        vault_id: vaultId,
        keychain_backend: keychain.backend,
        device_public_key: device.signer.publicKey,
        recovery_wrapped: wrapped,
        separate_organisations: separate ? 1 : 0,
      };
      const vault = new Vault(lock, db, journal, device, vaultId, meta, sodium, session);
      try {
        const admin = await vault.custodians.prepare({ ...init.admin, role: 'admin' });
        const openDb = db;
        // The meta row, the genesis entry and the admin's enrolment commit together or not at all.
        openDb.transaction(() => {
          openDb
            .prepare(
              'INSERT INTO vault_meta (id, vault_id, created_at, keychain_backend, device_public_key, recovery_wrapped, separate_organisations) VALUES (1, ?, ?, ?, ?, ?, ?)',
            )
            .run(vaultId, (session.now ?? Date.now)(), keychain.backend, meta.device_public_key, wrapped, meta.separate_organisations);
          journal.init(vaultId, { keychainBackend: keychain.backend, separateOrganisations: separate });
          vault.custodians.commit(admin, null);
        })();
        return { vault, recoveryKey: recovery.text, adminId: admin.record.id };
      } catch (error) {
        vault.custodians.close();
        throw error;
      }
    } catch (error) {
      db?.close();
      if (db !== null) for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, VAULT_FILE + suffix), { force: true });
      if (lock !== null) {
        lock.release();
        // The folder holds no vault now, so no other opener can be waiting on this lock file.
        if (!vaultExists(dir)) rmSync(join(dir, VAULT_LOCK_FILE), { force: true });
      }
      if (stored) await keychain.delete(deviceAccount(vaultId)).catch(() => false);
      device.forget();
      throw error;
    } finally {
      sodium.memzero(master);
    }
  }

  /** Opens the vault in dir with the device key from this machine's keychain; VAULT_LOCKED (naming vault:recover) if it is gone. */
  static async open(dir: string, keychain: Keychain, session: VaultSessionOptions = {}): Promise<Vault> {
    const sodium = await sodiumReady();
    const { db, lock } = openVaultDb(dir, session);
    try {
      const meta = readMeta(db);
      const master = await readDeviceMaster(keychain, meta.vault_id, sodium);
      if (master === null) {
        throw new HalfkeyError(
          'VAULT_LOCKED',
          `This machine's keychain (${keychain.backend}) has no device key for vault ${meta.vault_id}. Restore access with the recovery key and two custodians present: vault:recover in the app, or 'halfkey vault recover --vault DIR --recovery-key-file FILE --custodian ID --custodian ID'.`,
          { vaultId: meta.vault_id },
        );
      }
      const device = deriveDeviceKeys(meta.vault_id, master, sodium);
      sodium.memzero(master);
      return Vault.assemble(lock, db, device, meta, sodium, session);
    } catch (error) {
      db.close();
      lock.release();
      throw error;
    }
  }

  /**
   * Restores access with the recovery key where the keychain entry is gone. Using the recovery key
   * is a two-person step: the key alone only opens the device layer in memory; two distinct,
   * eligible custodians must enter their own passphrases at this workstation (recovery.ts). Only
   * then is the device master written to this keychain and `vault.recovered` journaled, carrying
   * both custodians' signatures. A refusal writes no keychain entry (wrong passphrases are
   * journaled and back off as for an unlock).
   */
  static async recover(
    dir: string,
    keychain: Keychain,
    recoveryKey: string,
    present: readonly PresentCustodian[],
    session: VaultSessionOptions = {},
  ): Promise<Vault> {
    const sodium = await sodiumReady();
    const recovery = parseRecoveryKey(recoveryKey, sodium);
    const { db, lock } = openVaultDb(dir, session);
    let vault: Vault | null = null;
    let master: Uint8Array | null = null;
    try {
      const meta = readMeta(db);
      try {
        master = unwrapDeviceMaster(meta.recovery_wrapped, recovery, meta.vault_id, sodium);
      } finally {
        sodium.memzero(recovery);
      }
      const device = deriveDeviceKeys(meta.vault_id, master, sodium);
      if (device.signer.publicKey !== meta.device_public_key) {
        device.forget();
        throw new HalfkeyError('INTERNAL', 'The recovered device key does not match this vault file; the file was altered.');
      }
      vault = Vault.assemble(lock, db, device, meta, sodium, session);
      const opened = vault;
      const ctx = {
        db,
        vaultId: meta.vault_id,
        journal: opened.journal,
        custodians: opened.custodians,
        roster: () => opened.proposals.roster(),
        sodium,
        now: session.now ?? Date.now,
      };
      // Who must be present is checked before any passphrase is tried.
      const pair = recoveryPair(ctx, present);
      await applyRecovery(ctx, pair, present, keychain, master, { previous: meta.keychain_backend });
      return opened;
    } catch (error) {
      if (vault !== null) vault.close();
      else {
        if (db.open) db.close();
        lock.release();
      }
      throw error;
    } finally {
      if (master !== null) sodium.memzero(master);
    }
  }

  /** Who may take part in recovering the vault in dir, read without the device key (public fields only). */
  static recoveryRoster(dir: string, session: VaultSessionOptions = {}): RecoveryCandidate[] {
    if (!vaultExists(dir))
      throw new HalfkeyError('VAULT_NOT_INITIALISED', `There is no vault in ${dir}; create one with vault:create or 'halfkey init'.`);
    const db = openDatabase(join(dir, VAULT_FILE), { readonly: true, nativeBinding: session.nativeBinding });
    try {
      return recoveryCandidates(db);
    } finally {
      db.close();
    }
  }

  private static assemble(
    lock: VaultLock,
    db: Db,
    device: HeldDeviceKeys,
    meta: MetaRow,
    sodium: Sodium,
    session: VaultSessionOptions,
  ): Vault {
    if (device.signer.publicKey !== meta.device_public_key) {
      device.forget();
      throw new HalfkeyError(
        'VAULT_LOCKED',
        `The keychain's device key is not the key of vault ${meta.vault_id}; restore access with the recovery key (vault:recover).`,
      );
    }
    try {
      const journal = JournalStore.open(db, { deviceSigner: device.signer, ...(session.now ? { now: session.now } : {}) });
      return new Vault(lock, db, journal, device, meta.vault_id, meta, sodium, session);
    } catch (error) {
      device.forget();
      throw error;
    }
  }

  /** Locks every custodian and journals `vault.locked`; the vault stays open for the next unlock. */
  lock(reason: LockAllReason = 'manual'): void {
    const ids = this.custodians.unlockedIds();
    this.db.transaction(() => {
      this.custodians.lockAll(reason);
      this.journal.append({ type: 'vault.locked', data: reason === 'manual' ? { custodians: ids } : { custodians: ids, reason } });
    })();
  }

  /** Zeroes every key in memory, closes the database and releases the vault's lock. */
  close(): void {
    this.custodians.close();
    this.device.forget();
    if (this.db.open) this.db.close();
    this.writerLock.release();
  }
}
