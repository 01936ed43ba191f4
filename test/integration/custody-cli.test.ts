import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';
import { freshAccountId, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';

// `npx halfkey` custody commands as a person runs them: a real process on a real vault folder,
// the real keychain (build/with-keyring.sh), passphrases and secrets from files.
const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'build/halfkey.mjs');
const PASSWORD = 'Cli-Initial-Passw0rd!';
let f: CustodyFixture;

function halfkey(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: f.dir, env: process.env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
const as = (name: 'admin' | 'pat' | 'mia') => ['--vault', f.dir, '--as', f.ids[name], '--passphrase-file', `${name}.pass`];

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  // One writer per vault: the CLI processes below are it, so this process lets the vault go.
  await f.custody.close();
  f.vault.close();
  for (const name of ['admin', 'pat', 'mia'] as const) writeFileSync(join(f.dir, `${name}.pass`), `${PASSPHRASES[name]}\n`);
  writeFileSync(join(f.dir, 'password.txt'), `${PASSWORD}\n`);
}, 120_000);

afterAll(async () => {
  await f?.close();
});

describe('halfkey custody commands', () => {
  it('bad arguments exit 2 and say what is wrong, before any passphrase is read', async () => {
    const cases: [string[], RegExp][] = [
      [['checkout', '--vault', 'v', '--as', 'x', '--item', 'password', '--reason', 'r'], /--account is required/],
      [
        ['checkout', '--vault', 'v', '--as', 'x', '--account', '123456789012', '--item', 'seed', '--reason', 'r'],
        /--item must be one of password, mfa/,
      ],
      [
        ['checkout', '--vault', 'v', '--as', 'x', '--account', '123456789012', '--item', 'mfa', '--reason', 'r', '--lease', 'forever'],
        /--lease must look like/,
      ],
      [
        ['half', 'set', '--vault', 'v', '--as', 'x', '--account', '123456789012', '--item', 'password', '--password', 'x'],
        /Unknown option '--password'/,
      ],
      [['account', 'remove'], /expected 'halfkey account add'/],
      [
        ['rotate', '--vault', 'v', '--as', 'x', '--account', '123456789012', '--item', 'password', '--length', '7'],
        /--length must be a whole number from 8 to 128/,
      ],
      [
        ['rotate', '--vault', 'v', '--as', 'x', '--account', '123456789012', '--item', 'password', '--confirm', '--abandon'],
        /--confirm or --abandon, not both/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await halfkey(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  it('adds, assigns, sets, checks out (printing the password once), refuses with exit 3, checks in and rotates', async () => {
    const id = freshAccountId();
    const added = await halfkey([
      'account',
      'add',
      ...as('admin'),
      '--id',
      id,
      '--alias',
      'cli',
      '--email',
      'root@example.com',
      '--organisation',
      'Customer',
      '--rotate-after-checkout',
    ]);
    expect(added).toMatchObject({ code: 0, stdout: `added account ${id} (cli)\n` });
    const badId = await halfkey([
      'account',
      'add',
      ...as('admin'),
      '--id',
      '1234',
      '--alias',
      'cli',
      '--email',
      'root@example.com',
      '--organisation',
      'Customer',
    ]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/12 digits/);

    // An assignment is a proposal: it prints how a second custodian approves it, and applies only then.
    const assigned = await halfkey(['assign', ...as('admin'), '--account', id, '--item', 'password', '--custodian', f.ids.pat]);
    expect(assigned.code).toBe(0);
    const [proposed, until, how] = assigned.stdout.trim().split('\n');
    expect(proposed).toBe(`proposed: Assign the password half of account ${id} to pat`);
    const proposalId = /^proposal ([0-9a-f]{32}), open until /.exec(until ?? '')?.[1] ?? '';
    expect(proposalId).toMatch(/^[0-9a-f]{32}$/);
    expect(how).toBe(
      `a second custodian (not ${f.ids.pat}) approves it with: halfkey proposal approve --vault DIR --as THEIR_ID --proposal ${proposalId}`,
    );
    const early = await halfkey(['half', 'set', ...as('pat'), '--account', id, '--item', 'password', '--secret-file', 'password.txt']);
    expect(early.code).toBe(3);
    expect(early.stderr).toMatch(/is not assigned the password half/);
    // Pat may not approve his own assignment; Mia may.
    const self = await halfkey(['proposal', 'approve', ...as('pat'), '--proposal', proposalId]);
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(/may not approve a change about themselves/);
    const approved = await halfkey(['proposal', 'approve', ...as('mia'), '--proposal', proposalId]);
    expect(approved).toMatchObject({
      code: 0,
      stdout: `Approved and applied: Assign the password half of account ${id} to pat (journal entry ${/entry (\d+)/.exec(approved.stdout)?.[1]}, signed by the proposer and by ${f.ids.mia}).\n`,
    });
    const both = await halfkey(['assign', ...as('admin'), '--account', id, '--item', 'mfa', '--custodian', f.ids.pat]);
    expect(both.code).toBe(3);
    expect(both.stderr).toMatch(/MFA half/);

    expect(
      (await halfkey(['half', 'set', ...as('pat'), '--account', id, '--item', 'password', '--secret-file', 'password.txt'])).code,
    ).toBe(0);
    const out = await halfkey(['checkout', ...as('pat'), '--account', id, '--item', 'password', '--reason', 'CLI test', '--lease', '5m']);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^checkout [0-9a-f]{32} open until /);
    expect(lines[1]).toBe(PASSWORD);
    expect(out.stdout.split(PASSWORD)).toHaveLength(2);

    const refused = await halfkey(['checkout', ...as('mia'), '--account', id, '--item', 'password', '--reason', 'try']);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).not.toContain(PASSWORD);

    const checkoutId = /checkout ([0-9a-f]{32})/.exec(lines[0] ?? '')?.[1] ?? '';
    const checkin = await halfkey(['checkin', ...as('pat'), '--checkout', checkoutId]);
    expect(checkin).toMatchObject({ code: 0, stdout: `checked in ${checkoutId}; the password is now due for rotation\n` });
    const due = await halfkey(['checkout', ...as('pat'), '--account', id, '--item', 'password', '--reason', 'again']);
    expect(due.code).toBe(1);
    expect(due.stderr).toMatch(/due for rotation/);

    const rotated = await halfkey(['rotate', ...as('pat'), '--account', id, '--item', 'password', '--length', '24']);
    expect(rotated.code).toBe(0);
    const [summary, fresh] = rotated.stdout.trim().split('\n');
    expect(summary).toBe(
      `rotation of the password half of ${id} pending: generation 2 (generation 1 stays in use until it is confirmed with 'halfkey rotate --confirm')`,
    );
    expect(fresh).toHaveLength(24);
    const account = async () => {
      const vault = await Vault.open(f.dir, await openKeytarKeychain());
      try {
        return (await CustodyService.open(vault)).accounts.get(id);
      } finally {
        vault.close();
      }
    };
    expect(await account()).toMatchObject({ rotationDue: true, password: { generation: 1, pendingGeneration: 2 } });
    // AWS took the new password: Pat proposes the confirmation, Mia approves it.
    const confirm = await halfkey(['rotate', ...as('pat'), '--account', id, '--item', 'password', '--confirm']);
    expect(confirm.code).toBe(0);
    expect(confirm.stdout).toContain(`proposed: Confirm the rotation of the password half of account ${id} to generation 2`);
    const confirmation = /proposal ([0-9a-f]{32}), open until/.exec(confirm.stdout)?.[1] ?? '';
    expect((await halfkey(['proposal', 'approve', ...as('mia'), '--proposal', confirmation])).code).toBe(0);
    expect(await account()).toMatchObject({ rotationDue: false, password: { generation: 2, pendingGeneration: null } });
  }, 300_000);
});
