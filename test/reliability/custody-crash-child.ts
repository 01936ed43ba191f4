// Child process of custody-crash.test.ts: opens the vault, unlocks one custodian, prints "ready",
// then checks the password out, reveals it and checks it in; every third round (from the first) it
// rotates the password (a pending generation) and the round after abandons that rotation, forever,
// until the parent kills it. Confirming takes a second custodian, so the parent does that after.
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';

const { CRASH_VAULT_DIR, CRASH_CUSTODIAN, CRASH_PASSPHRASE, CRASH_ACCOUNT } = process.env;
if (!CRASH_VAULT_DIR || !CRASH_CUSTODIAN || !CRASH_PASSPHRASE || !CRASH_ACCOUNT)
  throw new Error('CRASH_* environment variables are required');

const vault = await Vault.open(CRASH_VAULT_DIR, await openKeytarKeychain());
await vault.custodians.unlock(CRASH_CUSTODIAN, CRASH_PASSPHRASE);
const custody = await CustodyService.open(vault);
const half = { by: CRASH_CUSTODIAN, accountId: CRASH_ACCOUNT, item: 'password' } as const;
// A run killed between rotating and abandoning left a rotation pending: drop it before starting.
if (custody.accounts.get(CRASH_ACCOUNT).password?.pendingGeneration != null) custody.rotations.abandon(half);
process.stdout.write('ready\n');
for (let round = 0; ; round += 1) {
  const out = custody.checkouts.open({ ...half, reason: `crash round ${round}`, leaseSeconds: 3600 });
  await custody.checkouts.reveal({ by: CRASH_CUSTODIAN, checkoutId: out.checkoutId, seconds: 5 });
  custody.checkouts.checkin({ by: CRASH_CUSTODIAN, checkoutId: out.checkoutId });
  if (round % 3 === 0) custody.rotations.rotate({ ...half, seconds: 1 });
  if (round % 3 === 1) custody.rotations.abandon(half);
}
