// Child process of custody-crash.test.ts: opens the vault, unlocks one custodian, prints "ready",
// then checks the password out, reveals it and checks it in, and rotates it every third round (from the first),
// forever, until the parent kills it.
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';

const { CRASH_VAULT_DIR, CRASH_CUSTODIAN, CRASH_PASSPHRASE, CRASH_ACCOUNT } = process.env;
if (!CRASH_VAULT_DIR || !CRASH_CUSTODIAN || !CRASH_PASSPHRASE || !CRASH_ACCOUNT)
  throw new Error('CRASH_* environment variables are required');

const vault = await Vault.open(CRASH_VAULT_DIR, await openKeytarKeychain());
await vault.custodians.unlock(CRASH_CUSTODIAN, CRASH_PASSPHRASE);
const custody = await CustodyService.open(vault);
process.stdout.write('ready\n');
for (let round = 0; ; round += 1) {
  const out = custody.checkouts.open({
    by: CRASH_CUSTODIAN,
    accountId: CRASH_ACCOUNT,
    item: 'password',
    reason: `crash round ${round}`,
    leaseSeconds: 3600,
  });
  await custody.checkouts.reveal({ by: CRASH_CUSTODIAN, checkoutId: out.checkoutId, seconds: 5 });
  custody.checkouts.checkin({ by: CRASH_CUSTODIAN, checkoutId: out.checkoutId });
  if (round % 3 === 0) custody.halves.rotate({ by: CRASH_CUSTODIAN, accountId: CRASH_ACCOUNT, item: 'password', seconds: 1 });
}
