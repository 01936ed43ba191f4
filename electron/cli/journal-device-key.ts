import type { EntrySigner } from '../../shared/journal/entry';
import type { JournalStore } from '../journal/store';

/** An open vault's journal and device signer, for one CLI command; close() zeroes the keys. */
export interface OpenJournal {
  readonly store: JournalStore;
  readonly signer: EntrySigner;
  close(): void;
}

/**
 * Opens the vault in dir with the device key from the OS keychain (the vault service's own
 * path, so the CLI needs no key material of its own) and hands back its journal.
 */
export async function openVaultJournal(vaultDir: string): Promise<OpenJournal> {
  const [{ openKeytarKeychain }, { Vault }] = await Promise.all([import('../keychain/keytar-keychain'), import('../vault/vault')]);
  const vault = await Vault.open(vaultDir, await openKeytarKeychain());
  return { store: vault.journal, signer: vault.device.signer, close: () => vault.close() };
}
