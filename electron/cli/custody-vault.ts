import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { HalfkeyError } from '../../shared/api/result';
import { CustodyService } from '../services/custody/custody-service';
import { openKeytarKeychain } from '../services/keychain/keytar-keychain';
import { Vault } from '../services/vault/vault';

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

/** Asks on the terminal without echoing what is typed; refuses when stdin is not a terminal. */
export function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    return Promise.reject(new HalfkeyError('INVALID_PAYLOAD', 'stdin is not a terminal: give the secret with a file option (e.g. --passphrase-file) instead of a prompt.'));
  }
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
