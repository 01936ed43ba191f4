import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedEntry } from '../../shared/journal/entry';
import { verifyEntries } from '../../shared/journal/verifier';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';
import { HALF_PASSWORD, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';

// `halfkey break-glass …` as two people run it at one workstation whose UI is unusable: real
// processes on a real vault folder, the real keychain (build/with-keyring.sh), each custodian's
// passphrase from their own file, every request through the same router as the app.
let f: CustodyFixture;
let accountId = '';
const halfkey = halfkeyIn(() => f.dir);
const as = (name: 'pat' | 'mia') => ['--vault', f.dir, '--as', f.ids[name], '--passphrase-file', `${name}.pass`];

beforeAll(async () => {
  requireKeyring();
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  accountId = await f.fullAccount();
  await f.custody.close();
  f.vault.close();
  for (const name of ['pat', 'mia'] as const) writeFileSync(join(f.dir, `${name}.pass`), `${PASSPHRASES[name]}\n`);
}, 180_000);

afterAll(async () => {
  await f?.close();
});

describe('halfkey break-glass', () => {
  it('--help prints the steps and exits 0; bad arguments exit 2 before any passphrase is read', async () => {
    for (const args of [
      ['break-glass', '--help'],
      ['break-glass', 'use-mfa', '--help'],
      ['break-glass', '-h'],
    ]) {
      const help = await halfkey(args);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/use-password .* the password custodian/);
    }
    const v = ['--vault', 'v', '--as', 'x'];
    const cases: [string[], RegExp][] = [
      [['break-glass', 'smash', ...v], /unknown step 'smash'/],
      [['break-glass', 'open', ...v, '--account', '123456789012', '--reason', 'r', '--severity', 'high'], /--reference is required/],
      [
        ['break-glass', 'open', ...v, '--account', '123456789012', '--reference', 'R', '--reason', 'r', '--severity', 'urgent'],
        /--severity must be one of/,
      ],
      [
        [
          'break-glass',
          'open',
          ...v,
          '--account',
          '123456789012',
          '--reference',
          'R',
          '--reason',
          'r',
          '--severity',
          'low',
          '--lease',
          '1m',
        ],
        /--lease must be between 5 minutes/,
      ],
      [
        ['break-glass', 'close', ...v, '--session', 'a'.repeat(32), '--outcome', 'fixed', '--note', 'n'],
        /--outcome must be resolved or aborted/,
      ],
      [['break-glass', 'use-password', ...v], /--session or --account is required/],
      [
        ['break-glass', 'use-password', ...v, '--session', 'a'.repeat(32), '--note', 'x'],
        /--note is not an option of 'break-glass use-password'/,
      ],
      [['break-glass', 'use-mfa', ...v, '--session', 'a'.repeat(32), '--password', 'x'], /Unknown option '--password'/],
    ];
    for (const [args, message] of cases) {
      const result = await halfkey(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  }, 120_000);

  it('runs the ceremony: two people, their own passphrases, one half each; one person alone is refused with exit 3', async () => {
    const opened = await halfkey([
      'break-glass',
      'open',
      ...as('pat'),
      '--account',
      accountId,
      '--reference',
      'INC-77',
      '--reason',
      'identity provider down, every admin locked out',
      '--severity',
      'critical',
      '--lease',
      '30m',
    ]);
    expect(opened.stderr).toBe('');
    expect(opened.code).toBe(0);
    const sessionId = /session ([0-9a-f]{32})/.exec(opened.stdout)![1]!;
    expect(opened.stdout).toMatch(/state: opened; next: use-password/);

    // The bad session id is named by its option; the MFA step before the password step is refused.
    const badId = await halfkey(['break-glass', 'use-password', ...as('pat'), '--session', 'nope']);
    expect(badId).toMatchObject({ code: 2, stderr: expect.stringMatching(/--session: a break-glass session id is 32 lowercase hex/) });
    const early = await halfkey(['break-glass', 'use-mfa', ...as('mia'), '--account', accountId]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/password half comes first .*\[CONFLICT\]/);
    const miaPassword = await halfkey(['break-glass', 'use-password', ...as('mia'), '--session', sessionId]);
    expect(miaPassword.code).toBe(3);
    expect(miaPassword.stderr).toMatch(/holds the MFA half .* not the password half.* \[POLICY_REFUSED\]/);

    const pw = await halfkey(['break-glass', 'use-password', ...as('pat'), '--account', accountId]);
    expect(pw.code).toBe(0);
    expect(pw.stdout.split('\n')).toContain(HALF_PASSWORD);
    const patMfa = await halfkey(['break-glass', 'use-mfa', ...as('pat'), '--session', sessionId]);
    expect(patMfa.code).toBe(3);
    expect(patMfa.stderr).toMatch(/used the password half in this session, so cannot also use the MFA half/);
    expect(patMfa.stdout).not.toMatch(/\d{6} \(valid/);

    const mfa = await halfkey(['break-glass', 'use-mfa', ...as('mia'), '--session', sessionId]);
    expect(mfa.code).toBe(0);
    expect(mfa.stdout).toMatch(/^\d{6} \(valid for \d+ s\)$/m);
    const again = await halfkey(['break-glass', 'reveal', ...as('pat'), '--session', sessionId, '--seconds', '10']);
    expect(again.stdout.trim()).toBe(HALF_PASSWORD);

    const status = await halfkey(['break-glass', 'status', '--vault', f.dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/state: mfa-used; next: close/);
    expect(status.stdout).not.toContain(HALF_PASSWORD);

    const closed = await halfkey([
      'break-glass',
      'close',
      ...as('mia'),
      '--session',
      sessionId,
      '--outcome',
      'resolved',
      '--note',
      'role created, SCP fixed, signed out',
    ]);
    expect(closed.code).toBe(0);
    expect(closed.stdout).toMatch(/rotation: password due, MFA due/);
    const json = await halfkey(['break-glass', 'status', '--vault', f.dir, '--session', sessionId, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject([
      { state: 'closed', outcome: 'resolved', next: 'rotate', rotation: { password: 'due', mfa: 'due' } },
    ]);

    // The journal the commands wrote: every step signed by its custodian, the refusals, no secret, and it verifies.
    const vault = await Vault.open(f.dir, await openKeytarKeychain());
    try {
      const entries = [...vault.journal.read()] as SignedEntry[];
      const mine = entries.filter((e) => e.type.startsWith('break-glass.') && e.data.account === accountId);
      expect(mine.map((e) => [e.type, e.actor])).toEqual([
        ['break-glass.opened', f.ids.pat],
        ['break-glass.refused', f.ids.mia],
        ['break-glass.password-used', f.ids.pat],
        ['break-glass.refused', f.ids.pat],
        ['break-glass.mfa-used', f.ids.mia],
        ['break-glass.closed', f.ids.mia],
      ]);
      // docs/journal-format.md section 8: each command wrote inside a session of its own, opened
      // and closed around its work, naming the command (never its arguments).
      for (const e of mine) {
        const opened = entries.filter((x) => x.seq < e.seq && x.type.startsWith('session.')).at(-1);
        expect(opened, `${e.type} at ${e.seq}`).toMatchObject({
          type: 'session.started',
          data: { client: 'cli', command: expect.stringMatching(/^break-glass \S+$/) },
        });
        expect(entries.find((x) => x.seq > e.seq && x.type.startsWith('session.'))?.type, `${e.type} at ${e.seq}`).toBe('session.ended');
      }
      const text = JSON.stringify(entries);
      expect(text).not.toContain(HALF_PASSWORD);
      expect(text).not.toContain(PASSPHRASES.pat);
      const report = verifyEntries(entries);
      expect(report.failures).toEqual([]);
      expect(report.uncleanSessions).toBe(0);
    } finally {
      vault.close();
    }
  }, 300_000);
});
