import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices } from '../../electron/app/app-services';
import { createRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';
import { verifyEntries } from '../../shared/journal/verifier';
import { HALF_PASSWORD, HALF_SEED, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';
import { halfkeyIn, requireKeyring, type CliResult } from '../support/halfkey-cli';

// Issue 14's three named scenarios as regressions through the real `halfkey` CLI: each command is
// its own process (build/halfkey.mjs) on a real vault folder, with the real keychain
// (build/with-keyring.sh), real Argon2id and passphrases from files. The adversary is one person,
// Ada, an admin, who knows only her own passphrase (and whatever passphrases she makes up for
// puppets). Each describe sets up one vault in-process (test/support/custody-fixture.ts), lets it
// go, and then only CLI processes write to it. Argon2id runs (~1–3 s each here) are counted in the
// comments: each CLI command that unlocks costs one.

let f: CustodyFixture;
const halfkey = halfkeyIn(() => f.dir);
type Name = 'admin' | 'pat' | 'pam' | 'mia';
/** `--vault DIR --as ID --passphrase-file FILE`: whoever sits at the keyboard acts as custodian `id`, typing the passphrase in `file`. */
const asId = (id: string, file: string): string[] => ['--vault', f.dir, '--as', id, '--passphrase-file', file];
/** `who` acts, typing the passphrase in `file` (their own unless said otherwise). */
const as = (who: Name, file: string = `${who}.pass`): string[] => asId(f.ids[who], file);

/** Writes each fixture custodian's own passphrase to `<name>.pass` in the vault folder, and lets the vault go (the CLI is its one writer). */
async function handOver(names: readonly Name[]): Promise<void> {
  await f.custody.close();
  f.vault.close();
  for (const name of names) writeFileSync(join(f.dir, `${name}.pass`), `${PASSPHRASES[name]}\n`);
}

/** Opens the vault in this process (between CLI commands), reads it, and lets it go again. */
async function inspect<T>(read: (vault: Vault) => T): Promise<T> {
  const vault = await Vault.open(f.dir, await openKeytarKeychain());
  try {
    return read(vault);
  } finally {
    vault.close();
  }
}

const proposalIdIn = (r: CliResult): string => /[Pp]roposal ([0-9a-f]{32})/.exec(r.stdout)?.[1] ?? '';
const rows = <T>(vault: Vault, sql: string, ...params: unknown[]): T[] => vault.db.prepare(sql).all(...params) as T[];

describe('puppet: one admin alone cannot enrol custodians she controls and give them the halves', () => {
  const PUPPET_ONE = 'lilac thunder mortar vessel 11';
  const PUPPET_TWO = 'ochre glacier sprocket weave 22';
  let accountId = '';
  let puppetOne = '';

  beforeAll(async () => {
    requireKeyring();
    // Ada and Pat, the founding pair (Pat is a second, real person); one account with nothing assigned. 3 Argon2id runs.
    f = await openCustodyFixture({ only: ['pat'] });
    accountId = await f.addAccount();
    await handOver(['admin', 'pat']);
    writeFileSync(join(f.dir, 'puppet-one.pass'), `${PUPPET_ONE}\n`);
    writeFileSync(join(f.dir, 'puppet-two.pass'), `${PUPPET_TWO}\n`);
  }, 180_000);
  afterAll(async () => {
    await f?.close();
  });

  it('enrolling a puppet with a passphrase she typed is refused (exit 2, nothing proposed); without it, it only proposes', async () => {
    for (const [name, role, file] of [
      ['Puppet One', 'password-custodian', 'puppet-one.pass'],
      ['Puppet Two', 'mfa-custodian', 'puppet-two.pass'],
    ] as const) {
      const enrol = [
        'custodian',
        'add',
        '--vault',
        f.dir,
        '--as',
        f.ids.admin,
        '--name',
        name,
        '--organisation',
        'Provider',
        '--role',
        role,
      ];
      const typed = await halfkey([...enrol, '--passphrase-file', file, '--admin-passphrase-file', 'admin.pass']);
      expect(typed.code, typed.stderr).toBe(2);
      expect(typed.stdout).toBe('');
      expect(typed.stderr).toContain(
        `--passphrase-file is only for the vault's second, founding custodian: ${name} types their own passphrase when a second custodian approves the enrolment`,
      );
      expect(JSON.parse((await halfkey(['proposal', 'list', '--vault', f.dir, '--json'])).stdout)).not.toContainEqual(
        expect.objectContaining({ change: expect.objectContaining({ name }) }),
      );
      const added = await halfkey([...enrol, '--admin-passphrase-file', 'admin.pass']);
      expect(added.stderr).toBe('');
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toMatch(new RegExp(`^Proposed: Enrol ${name} as ${role} of Provider\\.\\n`));
      expect(added.stdout).toContain('takes effect when a second custodian approves it');
      expect(proposalIdIn(added)).toMatch(/^[0-9a-f]{32}$/);
    }
    const listed = await halfkey(['custodian', 'list', '--vault', f.dir, '--json']);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((c) => c.name)).toEqual(['Ada Admin', 'pat']);
  }, 120_000);

  it('approving her own enrolment proposal is refused at once, naming the second custodian it needs (exit 3)', async () => {
    const open = JSON.parse((await halfkey(['proposal', 'list', '--vault', f.dir, '--json'])).stdout) as {
      id: string;
      change: { custodian: string; name: string };
    }[];
    expect(open.map((p) => p.change.name).sort()).toEqual(['Puppet One', 'Puppet Two']);
    for (const p of open) {
      const file = p.change.name === 'Puppet One' ? 'puppet-one.pass' : 'puppet-two.pass';
      const self = await halfkey(['proposal', 'approve', ...as('admin'), '--proposal', p.id, '--newcomer-passphrase-file', file]);
      expect(self.code, self.stderr).toBe(3);
      expect(self.stdout).toBe('');
      expect(self.stderr).toBe(
        `halfkey proposal: This proposal needs a second, eligible custodian: ${f.ids.admin} proposed and approved this change alone: a second custodian must approve it. [NOT_PERMITTED]\n`,
      );
    }
    puppetOne = open.find((p) => p.change.name === 'Puppet One')!.change.custodian;
  }, 120_000);

  it('she cannot approve as the puppet, nor as Pat with her own passphrase', async () => {
    // The puppet is not a custodian until a second custodian approves: it cannot sign anything.
    const open = JSON.parse((await halfkey(['proposal', 'list', '--vault', f.dir, '--json'])).stdout) as {
      id: string;
      change: { custodian: string };
    }[];
    const proposal = open.find((p) => p.change.custodian === puppetOne);
    const asPuppet = await halfkey([
      'proposal',
      'approve',
      ...asId(puppetOne, 'puppet-one.pass'),
      '--newcomer-passphrase-file',
      'puppet-one.pass',
      '--proposal',
      proposal!.id,
    ]);
    expect(asPuppet.code, asPuppet.stderr).toBe(3);
    expect(asPuppet.stderr).toMatch(/This proposal needs a second, eligible custodian: .*\[NOT_PERMITTED\]\n$/);
    // Pat's passphrase is Pat's: hers does not open his keys (one Argon2id run).
    const asPat = await halfkey([
      'proposal',
      'approve',
      ...as('pat', 'admin.pass'),
      '--proposal',
      proposal!.id,
      '--newcomer-passphrase-file',
      'puppet-one.pass',
    ]);
    expect(asPat.code, asPat.stderr).toBe(1);
    expect(asPat.stderr).toMatch(
      /^halfkey proposal: Wrong passphrase for pat; the next attempt is possible in \d+ s\. \[BAD_PASSPHRASE\]\n$/,
    );
  }, 120_000);

  it('she cannot give a puppet a half or act as one: there is no such custodian', async () => {
    const assigned = await halfkey(['assign', ...as('admin'), '--account', accountId, '--item', 'password', '--custodian', puppetOne]);
    expect(assigned.code, assigned.stderr).toBe(1);
    expect(assigned.stdout).toBe('');
    expect(assigned.stderr).toBe(`halfkey assign: There is no custodian ${puppetOne} in this vault. [NOT_FOUND]\n`);
    const acting = await halfkey([
      'checkout',
      ...asId(puppetOne, 'puppet-one.pass'),
      '--account',
      accountId,
      '--item',
      'password',
      '--reason',
      'puppet',
    ]);
    expect(acting.code, acting.stderr).toBe(1);
    expect(acting.stderr).toBe(`halfkey checkout: There is no custodian ${puppetOne} in this vault. [NOT_FOUND]\n`);
  }, 120_000);

  it('nothing was applied: the roster, the account and the journal are as before, and the journal verifies', async () => {
    const state = await inspect((vault) => ({
      custodians: vault.custodians.list().map((c) => c.name),
      assignments: rows(vault, 'SELECT * FROM custody_assignments'),
      enrolled: vault.journal.query({ type: 'custodian.enrolled' }).map((e) => e.data.name),
      applied: rows(vault, "SELECT id FROM proposals WHERE state <> 'open'"),
      failures: verifyEntries(vault.journal.read()).failures,
    }));
    expect(state).toEqual({
      custodians: ['Ada Admin', 'pat'],
      assignments: [],
      enrolled: ['Ada Admin', 'pat'],
      applied: [],
      failures: [],
    });
    // The passphrases she made up for the puppets are nowhere in the vault file.
    const db = readFileSync(join(f.dir, 'vault.db'));
    for (const secret of [PUPPET_ONE, PUPPET_TWO]) expect(db.includes(Buffer.from(secret))).toBe(false);
  }, 60_000);
});

describe('one keyboard: sessions unlocked in the app do not let a CLI user act as their custodians', () => {
  beforeAll(async () => {
    requireKeyring();
    // Ada and Pat (password custodian), one account. 3 Argon2id runs.
    f = await openCustodyFixture({ only: ['pat'] });
    await f.addAccount();
    await handOver(['admin', 'pat']);
  }, 180_000);
  afterAll(async () => {
    await f?.close();
  });

  it('while the app holds Pat unlocked, the CLI cannot reach the vault at all; after it closes, Pat is locked again', async () => {
    const [accountId] = await inspect((vault) => rows<{ id: string }>(vault, 'SELECT id FROM custody_accounts').map((r) => r.id));
    const app = await openAppServices({ mode: 'preview', vaultDir: f.dir });
    try {
      const router = createRouter(createHandlerTable(app));
      expect(
        await router.call('custodian:unlock', { custodianId: f.ids.pat, passphrase: PASSPHRASES.pat }, { adapter: 'test' }),
      ).toMatchObject({ ok: true });
      const busy = await halfkey(['checkout', ...as('pat', 'admin.pass'), '--account', accountId!, '--item', 'password', '--reason', 'x']);
      expect(busy.code, busy.stderr).toBe(2);
      expect(busy.stderr).toMatch(/is open in another Halfkey process \(pid \d+\); close the app or wait .*\[CONFLICT\]\n$/);
      expect(busy.stdout).toBe('');
    } finally {
      await app.close();
    }
    // A CLI process starts with nobody unlocked: acting as Pat takes Pat's passphrase, and Ada's is not it.
    const own = await halfkey(['checkout', ...as('pat', 'admin.pass'), '--account', accountId!, '--item', 'password', '--reason', 'x']);
    expect(own.code, own.stderr).toBe(1);
    expect(own.stdout).toBe('');
    expect(own.stderr).toMatch(
      /^halfkey checkout: Wrong passphrase for pat; the next attempt is possible in \d+ s\. \[BAD_PASSPHRASE\]\n$/,
    );
    expect(own.stderr).not.toContain(HALF_PASSWORD);
    const after = await inspect((vault) => ({
      checkouts: rows(vault, 'SELECT id FROM custody_checkouts'),
      failed: vault.journal.query({ type: 'custodian.unlock-failed' }).map((e) => e.data.custodian),
    }));
    expect(after).toEqual({ checkouts: [], failed: [f.ids.pat] });
  }, 120_000);

  it('without a passphrase file and without a terminal, a command exits 2 before opening the vault, saying how to give it', async () => {
    const accountId = '123456789012';
    const cases: [string[], RegExp][] = [
      [
        ['checkout', '--vault', f.dir, '--as', f.ids.pat, '--account', accountId, '--item', 'password', '--reason', 'x'],
        new RegExp(
          `^halfkey checkout: stdin is not a terminal, so the passphrase for custodian ${f.ids.pat} cannot be asked for: give it with the matching --…-file option\\n$`,
        ),
      ],
      [
        ['proposal', 'approve', '--vault', f.dir, '--as', f.ids.pat, '--proposal', 'a'.repeat(32)],
        new RegExp(
          `^halfkey proposal: stdin is not a terminal, so the passphrase of ${f.ids.pat} cannot be asked for: .*--…-file option\\n$`,
        ),
      ],
    ];
    for (const [args, message] of cases) {
      const result = await halfkey(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    }
  }, 120_000);

  it('proposing as Ada and then approving as Ada is refused (exit 3), and the proposal stays open', async () => {
    const revoke = await halfkey([
      'custodian',
      'revoke',
      '--vault',
      f.dir,
      '--as',
      f.ids.admin,
      '--custodian',
      f.ids.pat,
      '--reason',
      'mine',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const proposalId = proposalIdIn(revoke);
    const self = await halfkey(['proposal', 'approve', ...as('admin'), '--proposal', proposalId]);
    expect(self.code, self.stderr).toBe(3);
    expect(self.stderr).toMatch(/proposed and approved this change alone: a second custodian must approve it\. \[NOT_PERMITTED\]\n$/);
    const state = await inspect((vault) => ({
      pat: vault.custodians.get(f.ids.pat)?.revoked,
      proposal: rows<{ state: string }>(vault, 'SELECT state FROM proposals WHERE id = ?', proposalId)[0]?.state,
      revoked: vault.journal.query({ type: 'custodian.revoked' }).length,
      failures: verifyEntries(vault.journal.read()).failures,
    }));
    expect(state).toEqual({ pat: false, proposal: 'open', revoked: 0, failures: [] });
  }, 120_000);
});

describe('unconfirmed rotation: a pending generation changes nothing until a second custodian approves its confirmation', () => {
  const NEW_SEED = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';
  let accountId = '';
  let newPassword = '';
  /** One column (`v`) of the rows of this account's `item` (two `?`: account, item). */
  const column = <T>(vault: Vault, sql: string, item: string): T[] => rows<{ v: T }>(vault, sql, accountId, item).map((r) => r.v);
  const seen = (item: string) =>
    inspect((vault) =>
      column<string>(vault, 'SELECT custodian_id AS v FROM custody_seen WHERE account_id = ? AND item = ? ORDER BY custodian_id', item),
    );
  const generations = (item: string) =>
    inspect((vault) => ({
      sealed: column<number>(vault, 'SELECT DISTINCT generation AS v FROM custody_sealed WHERE account_id = ? AND item = ?', item),
      pending: column<number>(vault, 'SELECT generation AS v FROM custody_pending_rotations WHERE account_id = ? AND item = ?', item),
    }));
  const totp = (seed: string, at: number) =>
    execFileSync('oathtool', ['--totp', '-b', seed, '-N', `@${Math.floor(at / 1000)}`], { encoding: 'utf8' }).trim();
  /** The codes of `seed` for every 30 s step from `from` to `to`. */
  const codesBetween = (seed: string, from: number, to: number) => {
    const out = new Set<string>();
    for (let t = from; t <= to + 30_000; t += 30_000) out.add(totp(seed, Math.min(t, to)));
    return out;
  };
  const checkout = (who: Name, item: 'password' | 'mfa') =>
    halfkey(['checkout', ...as(who), '--account', accountId, '--item', item, '--reason', `rotation test (${who})`, '--lease', '5m']);

  beforeAll(async () => {
    requireKeyring();
    // Ada; Pat and Pam on the password half (both hold a sealed copy), Mia on the MFA half. 13 Argon2id runs.
    f = await openCustodyFixture({ only: ['pat', 'pam', 'mia'] });
    accountId = await f.fullAccount();
    await f.assign('password', accountId, 'pam', 'pat');
    await handOver(['admin', 'pat', 'pam', 'mia']);
  }, 240_000);
  afterAll(async () => {
    await f?.close();
  });

  it('rotate leaves the rotation pending: the old password and the old seed stay in use, and rule 2 is not reset', async () => {
    // Pam sees the password of generation 1: that sighting must survive an unconfirmed rotation.
    const before = await checkout('pam', 'password');
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout.split('\n')[1]).toBe(HALF_PASSWORD);
    expect(await seen('password')).toEqual([f.ids.pat, f.ids.pam].sort());

    const rotated = await halfkey(['rotate', ...as('pat'), '--account', accountId, '--item', 'password']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const [summary, fresh] = rotated.stdout.trim().split('\n');
    expect(summary).toBe(
      `rotation of the password half of ${accountId} pending: generation 2 (generation 1 stays in use until it is confirmed with 'halfkey rotate --confirm')`,
    );
    newPassword = fresh ?? '';
    expect(newPassword).not.toBe(HALF_PASSWORD);
    expect(await generations('password')).toEqual({ sealed: [1], pending: [2] });

    // Checkouts still reveal generation 1.
    const during = await checkout('pam', 'password');
    expect(during.code, during.stderr).toBe(0);
    expect(during.stdout.split('\n')[1]).toBe(HALF_PASSWORD);
    expect(during.stdout).not.toContain(newPassword);
    // Rule 2's sightings: Pam's is still there (the rotator's own is added, nothing removed).
    expect(await seen('password')).toEqual([f.ids.pat, f.ids.pam].sort());

    // The MFA half the same way: codes still follow the old seed while the new one is pending.
    writeFileSync(join(f.dir, 'new.seed'), `${NEW_SEED}\n`);
    const mfa = await halfkey(['rotate', ...as('mia'), '--account', accountId, '--item', 'mfa', '--seed-file', 'new.seed']);
    expect(mfa.code, mfa.stderr).toBe(0);
    expect(mfa.stdout).toContain(`rotation of the mfa half of ${accountId} pending: generation 2`);
    const from = Date.now();
    const code = await checkout('mia', 'mfa');
    const to = Date.now();
    expect(code.code, code.stderr).toBe(0);
    const shown = /^(\d{6}) \(valid for \d+ s\)$/m.exec(code.stdout)?.[1];
    expect(codesBetween(HALF_SEED, from, to)).toContain(shown);
    expect(codesBetween(NEW_SEED, from, to)).not.toContain(shown);
    expect(await generations('mfa')).toEqual({ sealed: [1], pending: [2] });
  }, 240_000);

  it('the custodian who proposed the confirmation cannot approve it (exit 3); nothing changes', async () => {
    const confirm = await halfkey(['rotate', ...as('pat'), '--account', accountId, '--item', 'password', '--confirm']);
    expect(confirm.code, confirm.stderr).toBe(0);
    expect(confirm.stdout).toContain(`proposed: Confirm the rotation of the password half of account ${accountId} to generation 2`);
    const self = await halfkey(['proposal', 'approve', ...as('pat'), '--proposal', proposalIdIn(confirm)]);
    expect(self.code, self.stderr).toBe(3);
    expect(self.stderr).toBe(
      `halfkey proposal: This proposal needs a second, eligible custodian: ${f.ids.pat} proposed and approved this change alone: a second custodian must approve it. [NOT_PERMITTED]\n`,
    );
    expect(await generations('password')).toEqual({ sealed: [1], pending: [2] });
    expect(await seen('password')).toEqual([f.ids.pat, f.ids.pam].sort());
  }, 120_000);

  it('a second eligible custodian approves it: generation 2 is current, generation 1 retired, the sightings reset to the rotator', async () => {
    const [open] = JSON.parse((await halfkey(['proposal', 'list', '--vault', f.dir, '--json'])).stdout) as { id: string; type: string }[];
    expect(open?.type).toBe('rotation.confirmed');
    const approved = await halfkey(['proposal', 'approve', ...as('mia'), '--proposal', open!.id]);
    expect(approved.stderr).toBe('');
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(
      new RegExp(
        `^Approved and applied: Confirm the rotation of the password half of account ${accountId} to generation 2 \\(journal entry \\d+, signed by the proposer and by ${f.ids.mia}\\)\\.\\n$`,
      ),
    );
    expect(await generations('password')).toEqual({ sealed: [2], pending: [] });
    expect(await seen('password')).toEqual([f.ids.pat]);
    const after = await checkout('pam', 'password');
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout.split('\n')[1]).toBe(newPassword);
    // The MFA rotation was not confirmed: it is still pending.
    expect(await generations('mfa')).toEqual({ sealed: [1], pending: [2] });
    const journal = await inspect((vault) => ({
      confirmed: vault.journal.query({ type: 'rotation.confirmed' }).map((e) => ({ actor: e.actor, data: e.data })),
      failures: verifyEntries(vault.journal.read()).failures,
    }));
    expect(journal.confirmed).toEqual([
      {
        actor: f.ids.mia,
        data: expect.objectContaining({
          item: 'password',
          generation: 2,
          retiredGeneration: 1,
          rotatedBy: f.ids.pat,
          approval: expect.objectContaining({ proposer: f.ids.pat, approver: f.ids.mia }),
        }),
      },
    ]);
    expect(journal.failures).toEqual([]);
  }, 180_000);
});
