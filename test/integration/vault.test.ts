import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { verifyEntrySignature } from '../../shared/journal/entry';
import { verifyEntries } from '../../shared/journal/verifier';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { KEYCHAIN_SERVICE, type Keychain } from '../../electron/keychain/keychain';
import keytar from 'keytar';
import { deviceAccount } from '../../electron/vault/device-key';
import { openWithKey, passphraseKey } from '../../electron/vault/passphrase';
import { parseRecoveryKey } from '../../electron/vault/recovery-key';
import { Vault, VAULT_FILE } from '../../electron/vault/vault';
import { enrolCustodian, revokeCustodian } from '../support/roster';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_PASSPHRASE = 'correct horse battery staple';
const DANA_PASSPHRASE = 'saffron glacier hums at dusk 31';
const CLERK_PASSPHRASE = 'violet lantern orbit 42';
const scratch: string[] = [];
let sodium: Sodium;
let keychain: Keychain;
let dir: string;
let vault: Vault;
let recoveryKey: string;
let adminId: string;

/** A controllable clock so back-off is tested without sleeping. */
let clock = Date.now();
const now = (): number => clock;

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(d);
  return d;
}

async function errorOf(promise: Promise<unknown> | (() => unknown)): Promise<HalfkeyError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof HalfkeyError) return error;
    throw error;
  }
  throw new Error('expected a HalfkeyError, got success');
}

/** Every byte of the vault folder (db, WAL, SHM), for grepping. */
function folderBytes(folder: string): Buffer {
  return Buffer.concat(readdirSync(folder).map((f) => readFileSync(join(folder, f))));
}

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  sodium = await sodiumReady();
  keychain = await openKeytarKeychain();
  dir = join(tempDir('halfkey-vault-'), 'vault');
  ({ vault, recoveryKey, adminId } = await Vault.create(
    dir,
    keychain,
    { admin: { name: 'Ada Admin', organisation: 'Provider Ltd', passphrase: ADMIN_PASSPHRASE } },
    { now },
  ));
});

afterAll(async () => {
  vault?.close();
  if (vault) await keychain.delete(deviceAccount(vault.id));
  scratch.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('vault creation', () => {
  it('records id, keychain backend and the first admin, journaled and signed', () => {
    expect(vault.id).toMatch(/^[0-9a-f]{32}$/);
    expect(vault.keychainBackend).toBe(keychain.backend);
    const meta = vault.db.prepare('SELECT keychain_backend FROM vault_meta').get() as { keychain_backend: string };
    expect(meta.keychain_backend).toMatch(/^Secret Service/);
    expect(vault.custodians.list()).toEqual([expect.objectContaining({ id: adminId, role: 'admin', name: 'Ada Admin', revoked: false })]);
    const [genesis] = vault.journal.query({ type: 'vault.genesis' });
    expect(genesis?.data).toMatchObject({ keychainBackend: keychain.backend, deviceKey: vault.device.signer.publicKey });
    const [enrolled] = vault.journal.query({ type: 'custodian.enrolled' });
    const admin = vault.custodians.get(adminId);
    expect(enrolled?.actor).toBe(adminId);
    expect(enrolled?.data).toMatchObject({ custodian: adminId, role: 'admin', signingKey: admin?.signingKey, boxKey: admin?.boxKey });
    expect(enrolled?.sigs.map((s) => s.key)).toEqual([vault.device.signer.publicKey, admin?.signingKey]);
    expect(enrolled?.sigs.every((s) => verifyEntrySignature(enrolled.hash, s))).toBe(true);
  });

  it('shows the recovery key grouped with a check group that catches a typo', () => {
    expect(recoveryKey).toMatch(/^HK1(-[0-9A-Z]{6}){8}-[0-9A-Z]{4}$/);
    const groups = recoveryKey.split('-');
    const g = groups[3]!;
    groups[3] = (g[0] === 'A' ? 'B' : 'A') + g.slice(1);
    expect(() => parseRecoveryKey(groups.join('-'), sodium)).toThrow(/check group.*mistyped/);
    expect(() => parseRecoveryKey(recoveryKey.slice(0, -5), sodium)).toThrow(/should have 52 characters/);
    expect(parseRecoveryKey(recoveryKey.toLowerCase().replace(/-/g, ' '), sodium)).toHaveLength(30);
  });

  it('refuses a second vault in the same folder and a weak admin passphrase, leaving nothing behind', async () => {
    expect(
      (await errorOf(Vault.create(dir, keychain, { admin: { name: 'X', organisation: 'Y', passphrase: ADMIN_PASSPHRASE } }))).code,
    ).toBe('CONFLICT');
    const other = join(tempDir('halfkey-weak-'), 'v');
    const weak = await errorOf(Vault.create(other, keychain, { admin: { name: 'Bob', organisation: 'Org', passphrase: 'short' } }));
    expect(weak.code).toBe('INVALID_PAYLOAD');
    expect(weak.message).toMatch(/at least 12 characters/);
    expect(weak.message).not.toContain('short');
    expect(existsSync(other)).toBe(false);
  });

  it('a failure after the keychain write and the db create rolls both back', async () => {
    const accounts = async () => (await keytar.findCredentials(KEYCHAIN_SERVICE)).map((c) => c.account).sort();
    const before = await accounts();
    const other = join(tempDir('halfkey-half-'), 'v');
    const bad = await errorOf(
      Vault.create(other, keychain, { admin: { name: 'Bad\u0007Name', organisation: 'Org', passphrase: ADMIN_PASSPHRASE } }),
    );
    expect(bad.code).toBe('INVALID_PAYLOAD');
    expect(bad.message).toMatch(/custodian name/);
    expect(readdirSync(other)).toEqual([]);
    expect(await accounts()).toEqual(before);
  });
});

describe('the vault file at rest', () => {
  it('never holds the device master, the passphrase, the recovery key or a custodian private key in the clear', async () => {
    const master = await keychain.get(deviceAccount(vault.id));
    expect(master).not.toBeNull();
    const raw = sodium.from_base64(master!, sodium.base64_variants.ORIGINAL);
    const bytes = folderBytes(dir);
    // Unwrap the admin's private keys the way unlock does (one Argon2id run) to know what to look for.
    const row = vault.db
      .prepare('SELECT wrapped_keys, kdf_alg, kdf_opslimit, kdf_memlimit, kdf_salt FROM custodians WHERE id = ?')
      .get(adminId) as { wrapped_keys: Uint8Array; kdf_alg: number; kdf_opslimit: number; kdf_memlimit: number; kdf_salt: Uint8Array };
    const key = passphraseKey(
      ADMIN_PASSPHRASE,
      { alg: row.kdf_alg, opslimit: row.kdf_opslimit, memlimit: row.kdf_memlimit, salt: row.kdf_salt },
      sodium,
    );
    const privateKeys = openWithKey(vault.device.open(row.wrapped_keys, `custodian:${adminId}:keys`), key, sodium);
    expect(privateKeys).toHaveLength(96);
    const signSeed = privateKeys!.subarray(0, 32);
    const boxSecret = privateKeys!.subarray(64, 96);
    for (const needle of [
      Buffer.from(raw),
      Buffer.from(sodium.to_hex(raw)),
      Buffer.from(master!),
      Buffer.from(ADMIN_PASSPHRASE),
      Buffer.from(recoveryKey),
      Buffer.from(parseRecoveryKey(recoveryKey, sodium)),
      Buffer.from(signSeed),
      Buffer.from(boxSecret),
      Buffer.from(sodium.to_hex(boxSecret)),
    ]) {
      expect(bytes.includes(needle)).toBe(false);
    }
  });

  it('copied to another machine (a fresh keyring) reveals nothing until the recovery key restores it', async () => {
    vault.db.pragma('wal_checkpoint(TRUNCATE)');
    const copy = join(tempDir('halfkey-copy-'), 'vault');
    cpSync(dir, copy, { recursive: true });
    const keyFile = join(tempDir('halfkey-key-'), 'key');
    const script = `
      const { Vault } = await import('./electron/vault/vault.ts');
      const { openKeytarKeychain } = await import('./electron/keychain/keytar-keychain.ts');
      const { readFileSync } = await import('node:fs');
      const keychain = await openKeytarKeychain();
      const out = {};
      const attempt = async (name, fn) => { try { const v = await fn(); out[name] = { ok: true, custodians: v.custodians.list().length, recovered: v.journal.query({ type: 'vault.recovered' }).length, backend: v.keychainBackend }; v.close(); } catch (e) { out[name] = { code: e.code, message: e.message }; } };
      const dir = process.argv[1], key = readFileSync(process.argv[2], 'utf8');
      await attempt('open', () => Vault.open(dir, keychain));
      await attempt('typo', () => Vault.recover(dir, keychain, key.replace(/-(.)/, (m, c) => '-' + (c === 'A' ? 'B' : 'A'))));
      await attempt('wrong', () => Vault.recover(dir, keychain, process.argv[3]));
      await attempt('recover', () => Vault.recover(dir, keychain, key, [{ custodianId: process.argv[4], passphrase: process.argv[5] }]));
      await attempt('reopen', () => Vault.open(dir, keychain));
      console.log(JSON.stringify(out));`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(keyFile, recoveryKey);
    const { newRecoveryKey } = await import('../../electron/vault/recovery-key');
    const wrongKey = newRecoveryKey(sodium).text;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.HALFKEY_IN_KEYRING_SESSION;
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        join(root, 'build/with-keyring.sh'),
        [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, copy, keyFile, wrongKey, adminId, ADMIN_PASSPHRASE],
        { cwd: root, env, timeout: 60_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<
      string,
      { ok?: boolean; code?: string; message?: string; custodians?: number; recovered?: number }
    >;
    expect(out.open).toMatchObject({ code: 'VAULT_LOCKED' });
    expect(out.open?.message).toMatch(/vault:recover/);
    expect(out.typo).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(out.typo?.message).toMatch(/mistyped/);
    expect(out.wrong).toMatchObject({ code: 'BAD_RECOVERY_KEY' });
    // The right key and one custodian's passphrase are not enough: recovery takes two custodians, and this vault has one
    // (so it cannot be recovered at all). Nothing reached the fresh keychain, so the copy still does not open.
    expect(out.recover).toMatchObject({ code: 'NOT_PERMITTED' });
    expect(out.recover?.message).toMatch(/two custodians present.*only Ada/);
    expect(out.reopen).toMatchObject({ code: 'VAULT_LOCKED' });
    // The original is untouched: its own keychain entry still opens it.
    expect(readFileSync(join(dir, VAULT_FILE)).length).toBeGreaterThan(0);
  });
});

describe('custodians', () => {
  let clerkId: string;

  it('an unlocked admin enrols the founding second custodian alone; the entry says founding, names the keys and no secret', async () => {
    const admin = await vault.custodians.unlock(adminId, ADMIN_PASSPHRASE);
    const clerk = await vault.custodians.enrolFounding(admin, {
      name: 'Carol Clerk',
      organisation: 'Customer plc',
      role: 'password-custodian',
      passphrase: CLERK_PASSPHRASE,
    });
    clerkId = clerk.id;
    const entry = vault.journal.query({ type: 'custodian.enrolled' }).find((e) => e.data.custodian === clerk.id);
    expect(entry?.actor).toBe(adminId);
    expect(entry?.data.founding).toBe(true);
    expect(entry?.sigs.map((s) => s.key)).toEqual([vault.device.signer.publicKey, admin.signingKey]);
    expect(JSON.stringify(entry)).not.toContain(CLERK_PASSPHRASE);
    const row = vault.db.prepare('SELECT kdf_alg, kdf_opslimit, kdf_memlimit FROM custodians WHERE id = ?').get(clerk.id) as Record<
      string,
      number
    >;
    expect(row).toEqual({
      kdf_alg: sodium.crypto_pwhash_ALG_ARGON2ID13,
      kdf_opslimit: sodium.crypto_pwhash_OPSLIMIT_MODERATE,
      kdf_memlimit: sodium.crypto_pwhash_MEMLIMIT_MODERATE,
    });
    expect(folderBytes(dir).includes(Buffer.from(CLERK_PASSPHRASE))).toBe(false);
  });

  it('a non-admin cannot enrol, a locked admin cannot either, and after the founding pair no one enrols alone', async () => {
    const clerk = await vault.custodians.unlock(clerkId, CLERK_PASSPHRASE);
    // One actor at a time: the clerk unlocking locked the admin.
    expect(vault.custodians.unlockedIds()).toEqual([clerkId]);
    expect(vault.journal.query({ type: 'custodian.locked' }).at(-1)?.data).toEqual({ custodian: adminId, reason: 'switched' });
    const refused = await errorOf(
      vault.custodians.enrolFounding(clerk, { name: 'Eve', organisation: 'X Org', role: 'admin', passphrase: 'another long passphrase' }),
    );
    expect(refused.code).toBe('NOT_PERMITTED');
    expect(refused.message).toMatch(/Only an admin/);
    const admin = await vault.custodians.unlock(adminId, ADMIN_PASSPHRASE);
    const alone = await errorOf(
      vault.custodians.enrolFounding(admin, { name: 'Eve', organisation: 'X Org', role: 'admin', passphrase: 'another long passphrase' }),
    );
    expect(alone.code).toBe('NOT_PERMITTED');
    expect(alone.message).toMatch(/second custodian approve/);
    vault.custodians.lock(adminId);
    expect(
      (
        await errorOf(
          vault.custodians.enrolFounding(admin, {
            name: 'Eve',
            organisation: 'X Org',
            role: 'admin',
            passphrase: 'another long passphrase',
          }),
        )
      ).code,
    ).toBe('CUSTODIAN_LOCKED');
    expect(() => admin.signer.sign(new Uint8Array(1))).toThrow(/locked/);
    expect(vault.custodians.list().map((c) => c.name)).toEqual(['Ada Admin', 'Carol Clerk']);
    expect(vault.journal.query({ type: 'custodian.locked' }).at(-1)?.data).toEqual({ custodian: adminId, reason: 'manual' });
  });

  it('a sealed item opens only for its custodian', async () => {
    const clerk = await vault.custodians.unlock(clerkId, CLERK_PASSPHRASE);
    const sealed = sodium.crypto_box_seal(sodium.from_string('half'), sodium.from_hex(clerk.boxKey));
    expect(sodium.to_string(clerk.openSealed(sealed))).toBe('half');
    const other = sodium.crypto_box_seal(sodium.from_string('half'), sodium.crypto_box_keypair().publicKey);
    expect(() => clerk.openSealed(other)).toThrow(/not sealed to Carol Clerk/);
  });

  it('a wrong passphrase fails, is journaled without secrets, and the back-off survives a reopen', async () => {
    vault.custodians.lock(clerkId);
    // Two guesses at once: the second is refused while the first derivation runs, so parallel
    // guesses cannot slip past the back-off. The event loop keeps turning meanwhile (worker KDF).
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 20);
    const [first, second] = await Promise.allSettled([
      vault.custodians.unlock(clerkId, 'not the passphrase at all'),
      vault.custodians.unlock(clerkId, 'another guess entirely'),
    ]);
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(5);
    expect(second.status === 'rejected' && (second.reason as HalfkeyError).code).toBe('BACKOFF');
    expect(first.status).toBe('rejected');
    const wrong = (first as PromiseRejectedResult).reason as HalfkeyError;
    expect(wrong.code).toBe('BAD_PASSPHRASE');
    expect(wrong.detail).toMatchObject({ failures: 1, retryAfterMs: 1000 });
    const failed = vault.journal.query({ type: 'custodian.unlock-failed' });
    expect(failed.map((e) => e.data)).toEqual([{ custodian: clerkId, failures: 1, backoffMs: 1000 }]);
    expect(JSON.stringify(failed)).not.toContain('not the passphrase');
    vault.close();
    vault = await Vault.open(dir, keychain, { now });
    const backoff = await errorOf(vault.custodians.unlock(clerkId, CLERK_PASSPHRASE));
    expect(backoff.code).toBe('BACKOFF');
    expect(backoff.message).toMatch(/try again in 1 s/);
    clock += 1000;
    const clerk = await vault.custodians.unlock(clerkId, CLERK_PASSPHRASE);
    expect(clerk.id).toBe(clerkId);
    expect(vault.db.prepare('SELECT failed_unlocks, backoff_until FROM custodians WHERE id = ?').get(clerkId)).toEqual({
      failed_unlocks: 0,
      backoff_until: 0,
    });
  });

  it('locks an idle custodian and zeroes the keys', async () => {
    vault.close();
    vault = await Vault.open(dir, keychain, { now, idleLockMs: 60_000 });
    const clerk = await vault.custodians.unlock(clerkId, CLERK_PASSPHRASE);
    clock += 30_000;
    expect(vault.custodians.unlocked(clerkId).id).toBe(clerkId);
    clock += 60_000;
    const locked = await errorOf(() => vault.custodians.unlocked(clerkId));
    expect(locked.code).toBe('CUSTODIAN_LOCKED');
    expect(locked.message).toMatch(/idle/);
    expect(() => clerk.signer.sign(new Uint8Array(1))).toThrow(/locked/);
    expect(vault.journal.query({ type: 'custodian.locked' }).at(-1)?.data).toEqual({ custodian: clerkId, reason: 'idle' });
  });

  it('the idle sweeper locks without any call (short real timeout)', async () => {
    vault.close();
    vault = await Vault.open(dir, keychain, { idleLockMs: 100 });
    await vault.custodians.unlock(adminId, ADMIN_PASSPHRASE);
    expect(vault.custodians.unlockedIds()).toEqual([adminId]);
    await new Promise((r) => setTimeout(r, 400));
    expect(vault.custodians.unlockedIds()).toEqual([]);
  });

  it('vault lock locks everyone and is journaled', async () => {
    vault.lock();
    expect(vault.journal.query({ type: 'vault.locked' }).length).toBe(1);
    expect((await errorOf(() => vault.custodians.unlocked(adminId))).code).toBe('CUSTODIAN_LOCKED');
  });

  it('opening with the keychain entry gone says VAULT_LOCKED and names vault:recover; recovery restores it', async () => {
    vault.close();
    const saved = await keychain.get(deviceAccount(vault.id));
    await keychain.delete(deviceAccount(vault.id));
    const locked = await errorOf(Vault.open(dir, keychain));
    expect(locked.code).toBe('VAULT_LOCKED');
    expect(locked.message).toMatch(/vault:recover/);
    // Using the recovery key is a two-person step: the admin and the clerk, each with their own passphrase.
    vault = await Vault.recover(dir, keychain, recoveryKey, [
      { custodianId: adminId, passphrase: ADMIN_PASSPHRASE },
      { custodianId: clerkId, passphrase: CLERK_PASSPHRASE },
    ]);
    expect(await keychain.get(deviceAccount(vault.id))).toBe(saved);
    const [recovered] = vault.journal.query({ type: 'vault.recovered' });
    expect(recovered?.actor).toBe(clerkId);
    expect((recovered?.data.approval as { proposer?: string } | undefined)?.proposer).toBe(adminId);
    expect(verifyEntries([...vault.journal.read()]).failures).toEqual([]);
  });

  it('a tampered row is refused clearly: lowered KDF costs, or sealed keys moved from another custodian', async () => {
    const setOps = vault.db.prepare('UPDATE custodians SET kdf_opslimit = ? WHERE id = ?');
    setOps.run(1, adminId);
    const weak = await errorOf(vault.custodians.unlock(adminId, ADMIN_PASSPHRASE));
    expect(weak.message).toMatch(/below Argon2id MODERATE/);
    setOps.run(sodium.crypto_pwhash_OPSLIMIT_MODERATE, adminId);
    const keysOf = (id: string) =>
      (vault.db.prepare('SELECT wrapped_keys FROM custodians WHERE id = ?').get(id) as { wrapped_keys: Uint8Array }).wrapped_keys;
    const setKeys = vault.db.prepare('UPDATE custodians SET wrapped_keys = ? WHERE id = ?');
    const own = keysOf(adminId);
    setKeys.run(keysOf(clerkId), adminId);
    const moved = await errorOf(vault.custodians.unlock(adminId, ADMIN_PASSPHRASE));
    expect(moved.message).toMatch(/altered or moved to another row/);
    setKeys.run(own, adminId);
  });

  it('an admin proposes a revocation and a second custodian approves it: no more unlocks, journaled with both signatures; the last admin stays', async () => {
    const ada = { id: adminId, passphrase: ADMIN_PASSPHRASE };
    // A third custodian, enrolled by proposal and approved by the clerk, approves the clerk's revocation.
    const dana = await enrolCustodian(
      vault,
      ada,
      { name: 'Dana Dual', organisation: 'Customer plc', role: 'mfa-custodian', passphrase: DANA_PASSPHRASE },
      { id: clerkId, passphrase: CLERK_PASSPHRASE },
    );
    const clerk = vault.custodians.get(clerkId)!;
    // The clerk is the actor now (they approved); a change about themselves is not theirs to propose.
    const subject = await errorOf(() =>
      vault.proposals.propose(clerkId, 'custodian.revoked', { custodian: clerkId, signingKey: clerk.signingKey, reason: 'me' }),
    );
    expect(subject.code).toBe('NOT_PERMITTED');
    expect((await revokeCustodian(vault, ada, clerkId, 'left the company', { id: dana.id, passphrase: DANA_PASSPHRASE })).revoked).toBe(
      true,
    );
    expect(vault.custodians.get(clerkId)?.revoked).toBe(true);
    const refused = await errorOf(vault.custodians.unlock(clerkId, CLERK_PASSPHRASE));
    expect(refused.code).toBe('NOT_PERMITTED');
    expect(refused.message).toMatch(/revoked/);
    const [entry] = vault.journal.query({ type: 'custodian.revoked' });
    expect(entry?.data).toMatchObject({
      custodian: clerkId,
      signingKey: clerk.signingKey,
      reason: 'left the company',
      approval: { proposer: adminId, approver: dana.id },
    });
    expect(entry?.actor).toBe(dana.id);
    expect(vault.custodians.revocationProblem(adminId)?.message).toMatch(/last admin/);
    expect(vault.custodians.revocationProblem(clerkId)?.code).toBe('CONFLICT');
  });

  it('the journal written by all of the above verifies: chain, device and custodian signatures', () => {
    const report = verifyEntries(vault.journal.read());
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    const types = new Set([...vault.journal.read()].map((e) => e.type));
    for (const type of [
      'vault.genesis',
      'custodian.enrolled',
      'custodian.unlocked',
      'custodian.unlock-failed',
      'custodian.locked',
      'vault.locked',
      'vault.recovered',
    ])
      expect(types).toContain(type);
  });
});
