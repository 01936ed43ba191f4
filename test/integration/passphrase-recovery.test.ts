import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../shared/api/result';
import type { SignedEntry } from '../../shared/journal/entry';
import { verifyEntries } from '../../shared/journal/verifier';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { VECTORS_DIR } from '../support/journal-vectors';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';

// A custodian changing their own passphrase, and the recovery key used by two custodians, through
// the real router and app services (the table every adapter mounts): real SQLite file, real
// libsodium and Argon2id, the real OS keychain (run under build/with-keyring.sh), a real process
// kill for the crash. Every passphrase here is a test value.
const CHILD = fileURLToPath(new URL('./passphrase-crash-child.ts', import.meta.url));
const PASS = {
  ada: 'amber lantern quietly folds 17',
  pat: 'copper heron beneath winter 42',
  patNew: 'orchid tundra ferries seven 58',
  patCrash: 'basalt violin meanders 29 north',
  mia: 'granite meadow whistles north 63',
  rita: 'silver orchard drifts eastward 95',
} as const;
const ACCOUNT = '314159265358';
const ROOT_PASSWORD = 'Passphrase-Change-Root-Passw0rd!';

let dir: string;
let services: AppServices;
let router: ApiRouter;
let vaultId = '';
let recoveryKey = '';
const ids = { ada: '', pat: '', mia: '', rita: '' };
const logged: string[] = [];

type Routed = ApiResult<Record<string, unknown>>;
const call = async (channel: string, payload: unknown): Promise<Routed> =>
  (await router.call(channel, payload, { adapter: 'test' })) as Routed;
/** The call's value; a refusal fails the test, naming the channel and the error. */
const value = (channel: string, payload: unknown): Promise<Record<string, unknown>> =>
  call(channel, payload).then((r) => (r.ok ? r.value : Promise.reject(new Error(`${channel}: ${r.error.code} ${r.error.message}`))));
/** The call's error; a success fails the test. */
const refused = (channel: string, payload: unknown): Promise<{ code: string; message: string }> =>
  call(channel, payload).then((r) => (r.ok ? Promise.reject(new Error(`${channel} succeeded; a refusal was expected`)) : r.error));
const unlock = (who: keyof typeof ids, passphrase: string = PASS[who]) => call('custodian:unlock', { custodianId: ids[who], passphrase });
const approve = (proposal: Record<string, unknown>, who: keyof typeof ids, newcomerPassphrase?: string) =>
  value('proposal:approve', {
    by: ids[who],
    proposalId: (proposal.proposal as { id: string }).id,
    passphrase: PASS[who],
    ...(newcomerPassphrase === undefined ? {} : { newcomerPassphrase }),
  });

async function openServices(): Promise<void> {
  services = await openAppServices({ mode: 'preview', vaultDir: dir });
  router = createRouter(createHandlerTable(services), (event) => logged.push(JSON.stringify(event)));
}
const vault = () => services.vault.current()!;
const entries = (): SignedEntry[] => [...vault().journal.read()];
const wrappedKeys = (id: string): Buffer =>
  Buffer.from(
    (vault().db.prepare('SELECT wrapped_keys FROM custodians WHERE id = ?').get(id) as { wrapped_keys: Uint8Array }).wrapped_keys,
  );
/** Waits out the back-off a wrong passphrase started (1 s after a first failure). */
const backoff = () => new Promise((r) => setTimeout(r, 1_100));

beforeAll(async () => {
  requireKeyring();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-passphrase-'));
  await openServices();
  const created = await value('vault:create', { adminName: 'Ada Admin', organisation: 'Provider', passphrase: PASS.ada });
  vaultId = String(created.vaultId);
  recoveryKey = String(created.recoveryKey);
  ids.ada = String(created.adminId);
  await unlock('ada');
  const pat = await value('custodian:enrol', {
    by: ids.ada,
    name: 'Pat Password',
    organisation: 'Customer',
    role: 'password-custodian',
    passphrase: PASS.pat,
  });
  ids.pat = (pat.custodian as { id: string }).id;
  // Later enrolments are proposals of the admin that a second custodian approves, the newcomer typing their own passphrase.
  for (const [name, role, who] of [
    ['Mia MFA', 'mfa-custodian', 'mia'],
    ['Rita Reviewer', 'reviewer', 'rita'],
  ] as const) {
    await unlock('ada');
    const proposed = await value('custodian:enrol', { by: ids.ada, name, organisation: 'Provider', role });
    const custodianId = (proposed.proposal as { change: { custodian: string } }).change.custodian;
    await approve(proposed, 'pat', PASS[who]);
    ids[who] = custodianId;
  }
  // An account whose password half is sealed to Pat: it must still open after Pat's passphrase changes.
  await unlock('ada');
  await value('custody:account-add', {
    by: ids.ada,
    accountId: ACCOUNT,
    alias: 'pp',
    rootEmail: 'root@example.com',
    organisation: 'Customer',
  });
  await approve(await value('custody:assign', { by: ids.ada, accountId: ACCOUNT, item: 'password', custodianId: ids.pat }), 'mia');
  await unlock('pat');
  await value('custody:half-set', {
    by: ids.pat,
    accountId: ACCOUNT,
    item: 'password',
    secret: { kind: 'password', password: ROOT_PASSWORD },
  });
}, 240_000);

afterAll(async () => {
  await services?.close();
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a custodian changes their own passphrase (custodian:change-passphrase)', () => {
  it('a wrong old passphrase is refused and changes nothing (it counts against the back-off, journaled as a failed unlock)', async () => {
    const before = wrappedKeys(ids.pat);
    const seq = entries().length;
    // An admin cannot reset Pat's passphrase: the request must carry Pat's own, and the admin's is not it.
    const byAdmin = await refused('custodian:change-passphrase', {
      custodianId: ids.pat,
      oldPassphrase: PASS.ada,
      newPassphrase: PASS.patNew,
    });
    expect(byAdmin.code).toBe('BAD_PASSPHRASE');
    expect(byAdmin.message).toMatch(/Wrong passphrase for Pat Password/);
    // There is no field for anyone to act on someone else's behalf.
    const withBy = await refused('custodian:change-passphrase', {
      by: ids.ada,
      custodianId: ids.pat,
      oldPassphrase: PASS.pat,
      newPassphrase: PASS.patNew,
    });
    expect(withBy.code).toBe('INVALID_PAYLOAD');
    expect(wrappedKeys(ids.pat).equals(before)).toBe(true);
    expect(
      entries()
        .slice(seq)
        .map((e) => e.type),
    ).toEqual(['custodian.unlock-failed']);
    // During the back-off even the right old passphrase waits, without a key derivation.
    expect(
      (await refused('custodian:change-passphrase', { custodianId: ids.pat, oldPassphrase: PASS.pat, newPassphrase: PASS.patNew })).code,
    ).toBe('BACKOFF');
    await backoff();
    expect((await unlock('pat')).ok).toBe(true);
  });

  it('a weak or unchanged new passphrase is refused by the enrolment rules before any key derivation', async () => {
    const before = wrappedKeys(ids.pat);
    const weak = await refused('custodian:change-passphrase', { custodianId: ids.pat, oldPassphrase: PASS.pat, newPassphrase: 'short' });
    expect(weak).toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringMatching(/too weak: use at least 12 characters/) });
    const named = await refused('custodian:change-passphrase', {
      custodianId: ids.pat,
      oldPassphrase: PASS.pat,
      newPassphrase: 'Pat Password!',
    });
    expect(named.message).toMatch(/mostly the custodian name/);
    const same = await refused('custodian:change-passphrase', { custodianId: ids.pat, oldPassphrase: PASS.pat, newPassphrase: PASS.pat });
    expect(same.message).toMatch(/same as the old one/);
    expect(wrappedKeys(ids.pat).equals(before)).toBe(true);
  });

  it('after the change the old passphrase fails, the new one unlocks, the half sealed to them still opens, and the journal verifies', async () => {
    const before = wrappedKeys(ids.pat);
    expect(
      await value('custodian:change-passphrase', { custodianId: ids.pat, oldPassphrase: PASS.pat, newPassphrase: PASS.patNew }),
    ).toEqual({
      custodianId: ids.pat,
      changed: true,
    });
    expect(wrappedKeys(ids.pat).equals(before)).toBe(false);
    const entry = entries().at(-1)!;
    expect(entry).toMatchObject({ type: 'custodian.passphrase-changed', actor: ids.pat, data: { custodian: ids.pat } });
    // Signed by the device and by Pat's own (unchanged) signing key; nothing secret in it.
    const patKey = vault().custodians.get(ids.pat)!.signingKey;
    expect(entry.sigs.map((s) => s.key)).toEqual([vault().device.signer.publicKey, patKey]);
    const text = JSON.stringify(entry);
    for (const secret of [PASS.pat, PASS.patNew]) expect(text).not.toContain(secret);

    const old = await unlock('pat');
    expect(old.ok ? null : old.error.code).toBe('BAD_PASSPHRASE');
    await backoff();
    expect((await unlock('pat', PASS.patNew)).ok).toBe(true);
    const out = await value('custody:checkout', {
      by: ids.pat,
      accountId: ACCOUNT,
      item: 'password',
      reason: 'after a passphrase change',
      leaseSeconds: 60,
    });
    expect((await value('custody:reveal', { by: ids.pat, checkoutId: out.checkoutId, seconds: 5 })).password).toBe(ROOT_PASSWORD);
    await value('custody:checkin', { by: ids.pat, checkoutId: out.checkoutId });
    expect(verifyEntries(entries()).failures).toEqual([]);
    const all = logged.join('\n');
    for (const secret of [PASS.pat, PASS.patNew, PASS.ada]) expect(all).not.toContain(secret);
  });

  it('a process killed in the middle of the change leaves the old passphrase working and nothing half-written', async () => {
    const before = wrappedKeys(ids.pat);
    const seq = entries().length;
    await services.close(); // one writer per vault: the child opens it
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, CRASH_VAULT_DIR: dir, CRASH_CUSTODIAN: ids.pat, CRASH_OLD: PASS.patNew, CRASH_NEW: PASS.patCrash },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
    expect(signal, output).toBe('SIGKILL');
    expect(output).toContain('ready');
    expect(output).not.toContain('changed without a crash');

    await openServices();
    expect(wrappedKeys(ids.pat).equals(before)).toBe(true);
    expect(
      entries()
        .slice(seq)
        .map((e) => e.type),
    ).not.toContain('custodian.passphrase-changed');
    const crashed = await unlock('pat', PASS.patCrash);
    expect(crashed.ok ? null : crashed.error.code).toBe('BAD_PASSPHRASE');
    await backoff();
    expect((await unlock('pat', PASS.patNew)).ok).toBe(true);
    expect(verifyEntries(entries()).failures).toEqual([]);
  }, 60_000);
});

describe('the recovery key takes two custodians present (vault:recover)', () => {
  const keychainEntry = async () => (await openKeytarKeychain()).get(deviceAccount(vaultId));
  const recover = (...custodians: { custodianId: string; passphrase: string }[]) => call('vault:recover', { recoveryKey, custodians });
  const ada = () => ({ custodianId: ids.ada, passphrase: PASS.ada });

  it('with the keychain entry gone nothing opens; the recovery screen can still list who may take part (not the reviewer)', async () => {
    await services.close();
    const keychain = await openKeytarKeychain();
    await keychain.delete(deviceAccount(vaultId));
    await openServices();
    const open = await refused('vault:open', {});
    expect(open.code).toBe('VAULT_LOCKED');
    expect(open.message).toMatch(/two custodians/);
    const roster = (await value('vault:recovery-roster', {})).custodians as { id: string; name: string; role: string }[];
    expect(roster.map((c) => c.name)).toEqual(['Ada Admin', 'Pat Password', 'Mia MFA']);
    expect(JSON.stringify(roster)).not.toMatch(/Key|wrapped|signing/i);
  });

  it('the recovery key alone, or with one custodian, is refused with a message naming who else is needed; nothing reaches the keychain', async () => {
    const none = await refused('vault:recover', { recoveryKey });
    expect(none.code).toBe('NOT_PERMITTED');
    expect(none.message).toMatch(
      /two custodians present at this workstation.*choose two of Ada Admin \(admin\), Pat Password \(password-custodian\), Mia MFA \(mfa-custodian\)/,
    );
    const one = await recover(ada());
    expect(one.ok ? null : one.error).toMatchObject({
      code: 'NOT_PERMITTED',
      message:
        'Using the recovery key takes a second custodian: besides Ada Admin, one of Pat Password (password-custodian), Mia MFA (mfa-custodian) must enter their own passphrase at this workstation.',
    });
    const twice = await recover(ada(), ada());
    expect(twice.ok ? null : twice.error.message).toMatch(/Ada Admin was named twice: a second, different custodian/);
    const reviewer = await recover(ada(), { custodianId: ids.rita, passphrase: PASS.rita });
    expect(reviewer.ok ? null : reviewer.error.message).toMatch(/Rita Reviewer \(reviewer\) cannot take part in a recovery/);
    const three = await recover(ada(), { custodianId: ids.pat, passphrase: PASS.patNew }, { custodianId: ids.mia, passphrase: PASS.mia });
    expect(three.ok ? null : three.error.code).toBe('INVALID_PAYLOAD');
    // The right people, one of them with a wrong passphrase: refused by that person's back-off, still nothing written.
    const wrong = await recover(ada(), { custodianId: ids.pat, passphrase: PASS.pat });
    expect(wrong.ok ? null : wrong.error).toMatchObject({ code: 'BAD_PASSPHRASE', message: expect.stringMatching(/Pat Password/) });
    expect(await keychainEntry()).toBeNull();
    expect(services.vault.current()).toBeNull();
    await backoff();
  });

  it('with two custodians it restores access: keychain entry back, vault.recovered signed by both, both verifiers accept the journal', async () => {
    const done = await recover(ada(), { custodianId: ids.pat, passphrase: PASS.patNew });
    expect(done.ok ? done.value : done.error).toEqual({ vaultId, keychainBackend: expect.stringMatching(/^Secret Service/) });
    expect(await keychainEntry()).not.toBeNull();
    const recovered = entries().filter((e) => e.type === 'vault.recovered');
    expect(recovered).toHaveLength(1);
    const entry = recovered[0]!;
    const approval = entry.data.approval as Record<string, unknown>;
    expect(entry.actor).toBe(ids.pat);
    expect(approval).toMatchObject({ proposer: ids.ada, approver: ids.pat, change: { keychainBackend: entry.data.keychainBackend } });
    expect(entry.sigs.map((s) => s.key)).toEqual([vault().device.signer.publicKey, vault().custodians.get(ids.pat)!.signingKey]);
    // Neither custodian is left unlocked by recovering: the next person to act types their passphrase.
    expect(((await value('custodian:list', {})).custodians as { unlocked: boolean }[]).some((c) => c.unlocked)).toBe(false);
    expect(verifyEntries(entries()).failures).toEqual([]);
    const out = join(dir, 'after-recovery.hkj');
    await value('journal:export', { out });
    const python = spawnSync('python3', [join(VECTORS_DIR, 'verify_vectors.py'), out], { encoding: 'utf8' });
    expect(python.stdout).toMatch(/^VALID/);
  });
});

describe('the command line', () => {
  const halfkey = halfkeyIn(() => dir);

  it('`custodian passphrase --help` and `vault recover --help` print their usage and exit 0', async () => {
    for (const args of [
      ['custodian', 'passphrase', '--help'],
      ['vault', 'recover', '--help'],
      ['vault', '--help'],
      ['recover', '--help'],
    ]) {
      const r = await halfkey(args);
      expect(r, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/usage: halfkey (vault recover|custodian)/);
    }
  });

  it('halfkey custodian passphrase changes Mia’s passphrase from files (the old one required, a wrong one exits 1)', async () => {
    await services.close(); // the CLI is another process: one writer per vault
    const files = { old: join(dir, 'old.pass'), wrong: join(dir, 'wrong.pass'), fresh: join(dir, 'new.pass') };
    writeFileSync(files.old, `${PASS.mia}\n`);
    writeFileSync(files.wrong, 'not the passphrase of Mia at all\n');
    writeFileSync(files.fresh, 'meridian pebble copper 77 sails\n');
    const base = ['custodian', 'passphrase', '--vault', dir, '--custodian', ids.mia, '--new-passphrase-file', files.fresh];
    const wrong = await halfkey([...base, '--old-passphrase-file', files.wrong]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Wrong passphrase for Mia MFA.*\[BAD_PASSPHRASE\]/);
    await backoff();
    const noTty = await halfkey(['custodian', 'passphrase', '--vault', dir, '--custodian', ids.mia]);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/stdin is not a terminal/);
    const ok = await halfkey([...base, '--old-passphrase-file', files.old]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/passphrase of custodian [0-9a-f]{32} is changed/);
    expect(ok.stdout + ok.stderr).not.toContain(PASS.mia);
    await openServices();
    await value('vault:open', {});
    expect(
      entries()
        .filter((e) => e.type === 'custodian.passphrase-changed')
        .map((e) => e.actor),
    ).toEqual([ids.pat, ids.mia]);
    expect((await unlock('mia', 'meridian pebble copper 77 sails')).ok).toBe(true);
  }, 90_000);
});
