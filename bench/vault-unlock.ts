// Custodian unlock time against the raw KDF: each round times one Vault custodian unlock
// (read the row, Argon2id in a fresh worker thread, open the device-sealed and passphrase-boxed
// keys, journal the unlock) and one raw crypto_pwhash on this thread with the same stored
// parameters, interleaved so both see the same machine load. Prints the KDF parameters, the medians and the ratio unlock / raw.
// Run (needs a Secret Service for the device key): build/with-keyring.sh npx tsx bench/vault-unlock.ts [--rounds N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sodiumReady } from '../shared/sodium';
import { openKeytarKeychain } from '../electron/keychain/keytar-keychain';
import { deviceAccount } from '../electron/vault/device-key';
import { Vault } from '../electron/vault/vault';

const { values } = parseArgs({ options: { rounds: { type: 'string' } }, strict: true });
const rounds = Number(values.rounds ?? 5);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');

const sodium = await sodiumReady();
const keychain = await openKeytarKeychain();
const dir = mkdtempSync(join(tmpdir(), 'halfkey-bench-unlock-'));
const passphrase = 'bench passphrase with several words';
const { vault, adminId } = await Vault.create(join(dir, 'vault'), keychain, {
  admin: { name: 'Bench Admin', organisation: 'Bench Org', passphrase },
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  const row = vault.db.prepare('SELECT kdf_alg, kdf_opslimit, kdf_memlimit, kdf_salt FROM custodians WHERE id = ?').get(adminId) as {
    kdf_alg: number;
    kdf_opslimit: number;
    kdf_memlimit: number;
    kdf_salt: Uint8Array;
  };
  const unlockMs: number[] = [];
  const rawMs: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    let t = performance.now();
    await vault.custodians.unlock(adminId, passphrase);
    unlockMs.push(performance.now() - t);
    vault.custodians.lock(adminId);
    t = performance.now();
    sodium.crypto_pwhash(sodium.crypto_secretbox_KEYBYTES, passphrase, row.kdf_salt, row.kdf_opslimit, row.kdf_memlimit, row.kdf_alg);
    rawMs.push(performance.now() - t);
  }
  const alg = row.kdf_alg === sodium.crypto_pwhash_ALG_ARGON2ID13 ? 'Argon2id v1.3' : `alg ${row.kdf_alg}`;
  console.log(
    `KDF: ${alg}, opslimit ${row.kdf_opslimit}, memlimit ${row.kdf_memlimit / 2 ** 20} MiB (libsodium MODERATE), rounds ${rounds}`,
  );
  console.log(`custodian unlock  median ${median(unlockMs).toFixed(1)} ms  (all: ${unlockMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`raw crypto_pwhash median ${median(rawMs).toFixed(1)} ms  (all: ${rawMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`ratio unlock / raw KDF: ${(median(unlockMs) / median(rawMs)).toFixed(3)}`);
} finally {
  vault.close();
  await keychain.delete(deviceAccount(vault.id));
  rmSync(dir, { recursive: true, force: true });
}
