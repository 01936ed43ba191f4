// Child process of passphrase-recovery.test.ts: opens the vault, then changes a custodian's
// passphrase with a fault planted inside the transaction. The fault is a temporary SQLite trigger
// on this connection that calls a function which SIGKILLs this process when the change's journal
// entry is inserted: after the custodian's row got its new wrapped keys, before the commit. The
// process dies mid-change, as a power cut or a kill would leave it. Prints "ready" before the change.
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';

const { CRASH_VAULT_DIR, CRASH_CUSTODIAN, CRASH_OLD, CRASH_NEW } = process.env;
if (!CRASH_VAULT_DIR || !CRASH_CUSTODIAN || !CRASH_OLD || !CRASH_NEW) throw new Error('CRASH_* environment variables are required');

const vault = await Vault.open(CRASH_VAULT_DIR, await openKeytarKeychain());
vault.db.function('halfkey_test_crash', () => {
  process.kill(process.pid, 'SIGKILL');
  return null;
});
vault.db.exec(
  "CREATE TEMP TRIGGER halfkey_test_crash_on_entry AFTER INSERT ON journal_entries WHEN NEW.type = 'custodian.passphrase-changed' BEGIN SELECT halfkey_test_crash(); END",
);
process.stdout.write('ready\n');
await vault.custodians.changePassphrase(CRASH_CUSTODIAN, CRASH_OLD, CRASH_NEW);
// Reached only if the trigger did not fire: the parent treats a clean exit as a failed test.
process.stdout.write('changed without a crash\n');
vault.close();
