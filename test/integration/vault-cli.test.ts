import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'build/halfkey.mjs');
const ADMIN_PASSPHRASE = 'maple anchor thistle 93';
const CLERK_PASSPHRASE = 'copper kettle drizzle 18';
let work: string;
let vaultDir: string;

function halfkey(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // stdin is not a terminal here, so any prompt refuses instead of hanging.
    execFile(process.execPath, [bin, ...args], { cwd: work, env: process.env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  work = mkdtempSync(join(tmpdir(), 'halfkey-cli-'));
  vaultDir = join(work, 'vault');
  writeFileSync(join(work, 'admin.pass'), `${ADMIN_PASSPHRASE}\n`);
  writeFileSync(join(work, 'clerk.pass'), CLERK_PASSPHRASE);
});

let vaultId = '';
/** Set by the custodian test, used by the recovery test (the vault cannot list them while its key is gone). */
let adminIdOfVault = '';
let carolIdOfVault = '';
afterAll(async () => {
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  rmSync(work, { recursive: true, force: true });
});

describe('halfkey init / custodian / recover', () => {
  it('bad arguments exit 2 saying what is wrong, before anything is created', async () => {
    const missing = await halfkey(['init', '--vault', vaultDir, '--organisation', 'Org']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--admin-name is required/);
    const argvSecret = await halfkey([
      'init',
      '--vault',
      vaultDir,
      '--admin-name',
      'A',
      '--organisation',
      'O',
      '--passphrase',
      ADMIN_PASSPHRASE,
    ]);
    expect(argvSecret.code).toBe(2);
    expect(argvSecret.stderr).toMatch(/Unknown option '--passphrase'/);
    const noTty = await halfkey(['init', '--vault', vaultDir, '--admin-name', 'A', '--organisation', 'O']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/stdin is not a terminal/);
    const role = await halfkey([
      'custodian',
      'add',
      '--vault',
      vaultDir,
      '--as',
      'x',
      '--name',
      'N',
      '--organisation',
      'O',
      '--role',
      'boss',
    ]);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/--role must be one of admin, password-custodian/);
    expect(readdirSync(work).sort()).toEqual(['admin.pass', 'clerk.pass']);
  });

  it('init prints the recovery key and a terminal QR once, with the warning', async () => {
    const result = await halfkey([
      'init',
      '--vault',
      vaultDir,
      '--admin-name',
      'Ada Admin',
      '--organisation',
      'Provider Ltd',
      '--passphrase-file',
      'admin.pass',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    vaultId = /Vault ([0-9a-f]{32}) created/.exec(result.stdout)?.[1] ?? '';
    expect(vaultId).not.toBe('');
    expect(result.stdout).toMatch(/store it offline/);
    expect(result.stdout).toMatch(/Device key stored in: Secret Service/);
    expect(result.stdout).toMatch(/[▀▄█]/);
    const key = /(HK1(?:-[0-9A-Z]+)+)/.exec(result.stdout)?.[1];
    expect(key).toBeDefined();
    expect(result.stdout).not.toContain(ADMIN_PASSPHRASE);
    writeFileSync(join(work, 'recovery.txt'), `${key}\n`);
    const again = await halfkey([
      'init',
      '--vault',
      vaultDir,
      '--admin-name',
      'B',
      '--organisation',
      'O',
      '--passphrase-file',
      'admin.pass',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a vault.*\[CONFLICT\]/);
  });

  it('custodian add (as the admin, the founding second custodian), list, and a revocation its proposer cannot approve alone', async () => {
    const list0 = await halfkey(['custodian', 'list', '--vault', vaultDir, '--json']);
    const [admin] = JSON.parse(list0.stdout) as { id: string; role: string }[];
    expect(admin?.role).toBe('admin');
    const added = await halfkey([
      'custodian',
      'add',
      '--vault',
      vaultDir,
      '--as',
      admin!.id,
      '--name',
      'Carol Clerk',
      '--organisation',
      'Customer plc',
      '--role',
      'mfa-custodian',
      '--passphrase-file',
      'clerk.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/Enrolled Carol Clerk \(Customer plc\) as mfa-custodian/);
    const list = await halfkey(['custodian', 'list', '--vault', vaultDir]);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
    expect(list.stdout).toMatch(/mfa-custodian\s+Carol Clerk \(Customer plc\)/);
    const carol = /^([0-9a-f]{32})\s+mfa-custodian/m.exec(list.stdout)?.[1];
    // From the third custodian on the newcomer types their own passphrase at approval: one the
    // proposer supplies (a puppet's) is refused, not ignored, and nothing is proposed.
    const puppet = await halfkey([
      'custodian',
      'add',
      '--vault',
      vaultDir,
      '--as',
      admin!.id,
      '--name',
      'Pam Puppet',
      '--organisation',
      'Customer plc',
      '--role',
      'password-custodian',
      '--passphrase-file',
      'clerk.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    expect(puppet.code).toBe(2);
    expect(puppet.stderr).toMatch(
      /--passphrase-file is only for the vault's second, founding custodian: Pam Puppet types their own passphrase/,
    );
    expect((await halfkey(['proposal', 'list', '--vault', vaultDir])).stdout).not.toMatch(/Pam Puppet/);
    adminIdOfVault = admin!.id;
    carolIdOfVault = carol!;
    const noReason = await halfkey(['custodian', 'revoke', '--vault', vaultDir, '--as', admin!.id, '--custodian', carol!]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason is required/);
    const revoked = await halfkey([
      'custodian',
      'revoke',
      '--vault',
      vaultDir,
      '--as',
      admin!.id,
      '--custodian',
      carol!,
      '--reason',
      'moved teams',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    // A revocation is a proposal; its proposer cannot approve it alone (a second custodian must).
    expect(revoked.stderr).toBe('');
    expect(revoked.stdout).toMatch(/Proposed: Revoke Carol Clerk: moved teams/);
    const proposalId = /Proposal ([0-9a-f]{32})/.exec(revoked.stdout)?.[1];
    const alone = await halfkey([
      'proposal',
      'approve',
      '--vault',
      vaultDir,
      '--as',
      admin!.id,
      '--proposal',
      proposalId!,
      '--passphrase-file',
      'admin.pass',
    ]);
    expect(alone.code).toBe(3);
    expect(alone.stderr).toMatch(/proposed and approved this change alone: a second custodian must approve it.*\[NOT_PERMITTED\]/);
    expect((await halfkey(['proposal', 'list', '--vault', vaultDir])).stdout).toMatch(
      new RegExp(`${proposalId!}\\s+open\\s+Revoke Carol Clerk`),
    );
    expect((await halfkey(['custodian', 'list', '--vault', vaultDir])).stdout).not.toMatch(/\[revoked\]/);
  });

  it('vault recover restores a lost keychain entry from the recovery key file and two custodians, never one', async () => {
    const keychain = await openKeytarKeychain();
    await keychain.delete(deviceAccount(vaultId));
    const locked = await halfkey(['custodian', 'list', '--vault', vaultDir]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(
      /halfkey vault recover --vault DIR --recovery-key-file FILE --custodian ID --custodian ID.*\[VAULT_LOCKED\]/,
    );
    writeFileSync(join(work, 'typo.txt'), '0000');
    const typo = await halfkey(['recover', '--vault', vaultDir, '--recovery-key-file', 'typo.txt']);
    expect(typo.code).toBe(2); // a mistyped key is bad input (INVALID_PAYLOAD), not a failed recovery
    expect(typo.stderr).toMatch(/should have 52 characters/);
    // Using the recovery key is a two-person step: the admin alone is refused, and told who else may come.
    const recover = (...custodians: string[]) =>
      halfkey(['vault', 'recover', '--vault', vaultDir, '--recovery-key-file', 'recovery.txt', ...custodians]);
    const admin = ['--custodian', adminIdOfVault, '--passphrase-file', 'admin.pass'];
    const alone = await recover(...admin);
    expect(alone.code).toBe(3);
    expect(alone.stderr).toMatch(
      /a second custodian: besides .*, Carol Clerk \(mfa-custodian\) must enter their own passphrase.*\[NOT_PERMITTED\]/,
    );
    expect(await keychain.get(deviceAccount(vaultId))).toBeNull();
    const recovered = await recover(...admin, '--custodian', carolIdOfVault, '--passphrase-file', 'clerk.pass');
    expect(recovered.stderr).toBe('');
    expect(recovered.stdout).toMatch(/recovered.*signatures of both custodians/);
    expect(await keychain.get(deviceAccount(vaultId))).not.toBeNull();
    const list = await halfkey(['custodian', 'list', '--vault', vaultDir]);
    expect(list.code).toBe(0);
  });
});
