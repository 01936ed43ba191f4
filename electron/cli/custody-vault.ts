import { CustodyService } from '../custody/custody-service';
import { openKeytarKeychain } from '../keychain/keytar-keychain';
import { Vault } from '../vault/vault';

/** Opens the vault for one CLI command and unlocks the acting custodian (one Argon2id derivation). */
export async function openCustodyForCli(options: { vaultDir: string; as: string; passphrase: string }): Promise<{ custody: CustodyService; close(): Promise<void> }> {
  const vault = await Vault.open(options.vaultDir, await openKeytarKeychain());
  try {
    await vault.custodians.unlock(options.as, options.passphrase);
    // The CLI has no clipboard: copy says to use reveal.
    const custody = await CustodyService.open(vault);
    return {
      custody,
      close: async () => {
        await custody.close();
        vault.close();
      },
    };
  } catch (error) {
    vault.close();
    throw error;
  }
}
