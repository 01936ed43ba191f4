import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';
import { openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';

// `halfkey organisation|policy|custodian role|custodian organisation` as a person runs them: real
// processes on a real vault folder, the real keychain (build/with-keyring.sh), passphrases from files.
// The admin (Provider), Pat (password, Customer, founding) and Mia (MFA, Provider) are the people.
let f: CustodyFixture;
const halfkey = halfkeyIn(() => f.dir);
const as = (name: 'admin' | 'pat' | 'mia', file = '--passphrase-file') => ['--vault', f.dir, '--as', f.ids[name], file, `${name}.pass`];
const proposalOf = (stdout: string): string => /Proposal ([0-9a-f]{32}) takes effect/.exec(stdout)?.[1] ?? '';
const approve = (proposal: string, name: 'admin' | 'pat' | 'mia') => halfkey(['proposal', 'approve', ...as(name), '--proposal', proposal]);

beforeAll(async () => {
  requireKeyring();
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  // One writer per vault: the CLI processes below are it.
  await f.custody.close();
  f.vault.close();
  for (const name of ['admin', 'pat', 'mia'] as const) writeFileSync(join(f.dir, `${name}.pass`), `${PASSPHRASES[name]}\n`);
}, 120_000);

afterAll(async () => {
  await f?.close();
});

describe('halfkey organisation, policy, custodian role and custodian organisation', () => {
  it('--help prints the usage and exits 0; bad arguments exit 2 before any passphrase is read', { timeout: 300_000 }, async () => {
    for (const args of [
      ['organisation', '--help'],
      ['policy', '--help'],
      ['custodian', 'role', '--help'],
      ['custodian', 'organisation', '--help'],
    ]) {
      const help = await halfkey(args);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^usage: halfkey (organisation|policy|custodian)/);
    }
    const cases: [string[], RegExp][] = [
      [['policy', 'set', '--vault', 'v', '--as', 'x'], /name at least one of --separate-organisations, --max-lease, --idle-lock/],
      [['policy', 'set', '--vault', 'v', '--as', 'x', '--separate-organisations', 'maybe'], /must be on or off/],
      [['policy', 'set', '--vault', 'v', '--as', 'x', '--idle-lock', '2d'], /--idle-lock must be between 60 and 3600 seconds/],
      [['policy', 'set', '--vault', 'v', '--as', 'x', '--max-lease', 'forever'], /--max-lease must look like 90s/],
      [['custodian', 'role', '--vault', 'v', '--as', 'x', '--custodian', 'y', '--role', 'boss'], /--role must be one of admin/],
      [['custodian', 'organisation', '--vault', 'v', '--as', 'x', '--custodian', 'y'], /--organisation is required/],
      [
        [
          'organisation',
          'channel',
          '--vault',
          'v',
          '--as',
          'x',
          '--account',
          '123456789012',
          '--item',
          'email',
          '--organisation',
          'o',
          '--none',
        ],
        /exactly one of --organisation ORG and --none/,
      ],
      [
        ['organisation', 'channel', '--vault', 'v', '--as', 'x', '--account', '123456789012', '--item', 'mfa', '--none'],
        /--item must be email or phone/,
      ],
      [['organisation', 'rename'], /expected 'organisation list', 'organisation add' or 'organisation channel'/],
    ];
    for (const [args, message] of cases) {
      const result = await halfkey(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  it(
    'lists the adopted organisations; adding one is a proposal its proposer cannot approve (exit 3), a second custodian can',
    { timeout: 300_000 },
    async () => {
      const listed = await halfkey(['organisation', 'list', '--vault', f.dir, '--json']);
      expect(listed.code).toBe(0);
      expect((JSON.parse(listed.stdout) as { name: string }[]).map((o) => o.name)).toEqual(['Customer', 'Provider']);

      const added = await halfkey(['organisation', 'add', ...as('admin'), '--name', 'DoiT']);
      expect(added.code).toBe(0);
      expect(added.stdout).toMatch(/^Proposed: Add organisation DoiT\./);
      const alone = await approve(proposalOf(added.stdout), 'admin');
      expect(alone.code).toBe(3);
      expect(alone.stderr).toMatch(/a second custodian must approve it/);
      expect((await approve(proposalOf(added.stdout), 'pat')).code).toBe(0);
      const twice = await halfkey(['organisation', 'add', ...as('admin'), '--name', 'doit']);
      expect(twice.code).toBe(1);
      expect(twice.stderr).toMatch(/Organisation "DoiT" .* already exists/);
    },
  );

  it(
    'a role change and an organisation change are proposals the custodian they are about cannot approve',
    { timeout: 300_000 },
    async () => {
      const role = await halfkey([
        'custodian',
        'role',
        ...as('admin', '--admin-passphrase-file'),
        '--custodian',
        f.ids.mia,
        '--role',
        'password-custodian',
      ]);
      expect(role.code).toBe(0);
      const self = await approve(proposalOf(role.stdout), 'mia');
      expect(self.code).toBe(3);
      expect(self.stderr).toMatch(/may not approve a change about themselves/);
      expect((await approve(proposalOf(role.stdout), 'pat')).code).toBe(0);

      const moved = await halfkey([
        'custodian',
        'organisation',
        ...as('admin', '--admin-passphrase-file'),
        '--custodian',
        f.ids.mia,
        '--organisation',
        'doit',
      ]);
      expect(moved.code).toBe(0);
      expect(moved.stdout).toMatch(/Move mia to organisation DoiT/);
      expect((await approve(proposalOf(moved.stdout), 'pat')).code).toBe(0);
      const custodians = JSON.parse((await halfkey(['custodian', 'list', '--vault', f.dir, '--json'])).stdout) as {
        id: string;
        role: string;
        organisation: string;
      }[];
      expect(custodians.find((c) => c.id === f.ids.mia)).toMatchObject({ role: 'password-custodian', organisation: 'DoiT' });
    },
  );

  it(
    'policy set is a proposal; policy show prints the policy in force once a second custodian approved it',
    { timeout: 300_000 },
    async () => {
      const set = await halfkey(['policy', 'set', ...as('admin'), '--separate-organisations', 'on', '--max-lease', '1h']);
      expect(set.code).toBe(0);
      expect(set.stdout).toMatch(/rule 3 \(separate organisations\) on, longest lease 7 d → 1 h/);
      expect(JSON.parse((await halfkey(['policy', 'show', '--vault', f.dir, '--json'])).stdout)).toEqual({
        separateOrganisations: false,
        maxLeaseSeconds: 604_800,
        idleLockSeconds: 300,
      });
      expect((await approve(proposalOf(set.stdout), 'admin')).code).toBe(3);
      expect((await approve(proposalOf(set.stdout), 'mia')).code).toBe(0);
      const shown = await halfkey(['policy', 'show', '--vault', f.dir]);
      expect(shown).toMatchObject({ code: 0, stdout: 'rule 3 (separate organisations): on\nlongest lease: 3600 s\nidle lock: 300 s\n' });
    },
  );
});
