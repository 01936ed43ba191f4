import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { Vault } from '../../electron/vault/vault';
import { dumpTables, runHalfkey } from '../support/leak-scan';

// Malformed input through every CLI command and a sample of API channels, on one real vault
// (real keychain through build/with-keyring.sh, real SQLite): each is refused with a message
// naming the problem, and the vault, its journal and the working folder are left exactly as
// they were.

const ADMIN_PASSPHRASE = 'heron quarry velvet tides 64';
const ACCOUNT = '210987654321';
let work: string;
let vaultDir: string;
let vaultId = '';
let adminId = '';

/** The journal head and every row of every table, as text: equal before and after means nothing was written. */
function snapshot(): { head: string; tables: string; files: string[] } {
  const db = new Database(join(vaultDir, 'vault.db'), { readonly: true, fileMustExist: true });
  try {
    const head = db.prepare('SELECT seq, hash FROM journal_entries ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
    return { head: `${head.seq}:${head.hash}`, tables: dumpTables(join(vaultDir, 'vault.db')), files: readdirSync(work).sort() };
  } finally {
    db.close();
  }
}

/** Types of the journal entries appended after seq. */
function entryTypesAfter(seq: number): string[] {
  const db = new Database(join(vaultDir, 'vault.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT type FROM journal_entries WHERE seq > ? ORDER BY seq').all(seq) as { type: string }[]).map((r) => r.type);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('This test needs a real Secret Service: run it through build/with-keyring.sh (npm test does).');
  work = mkdtempSync(join(tmpdir(), 'halfkey-badinput-'));
  vaultDir = join(work, 'vault');
  const created = await Vault.create(vaultDir, await openKeytarKeychain(), {
    admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: ADMIN_PASSPHRASE },
  });
  vaultId = created.vault.id;
  adminId = created.adminId;
  created.vault.close();
  // Custody's first open records the founding organisation and the vault policy; done here so that
  // the cases below start from a vault the app has opened once, and only their own effects count.
  const listed = await runHalfkey(work, ['organisation', 'list', '--vault', vaultDir]);
  if (listed.code !== 0) throw new Error(`organisation list: ${listed.stderr}`);
  writeFileSync(join(work, 'admin.pass'), `${ADMIN_PASSPHRASE}\n`);
  writeFileSync(join(work, 'short.txt'), 'Sh0rt!\n');
  writeFileSync(join(work, 'empty.hkj'), '');
}, 60_000);

afterAll(async () => {
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every string value inside a payload, however deep. */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(stringsIn);
  return [];
}

type Case = readonly [label: string, args: () => string[], message: RegExp];

const V = () => ['--vault', vaultDir];
const AS = () => ['--vault', vaultDir, '--as', adminId, '--passphrase-file', 'admin.pass'];

// Each case is refused while parsing, before a passphrase is read or the vault is opened.
const usageCases: readonly Case[] = [
  ['no command', () => [], /usage: halfkey <command>/],
  ['unknown command', () => ['frobnicate'], /unknown command 'frobnicate'/],
  ['init without --vault', () => ['init', '--admin-name', 'A', '--organisation', 'O'], /--vault is required/],
  [
    'init with a passphrase on argv',
    () => ['init', ...V(), '--admin-name', 'A', '--organisation', 'O', '--passphrase', 'x'],
    /Unknown option '--passphrase'/,
  ],
  [
    'init with a stray positional',
    () => ['init', ...V(), '--admin-name', 'A', '--organisation', 'O', 'extra'],
    /Unexpected argument 'extra'/,
  ],
  [
    'init over an existing vault, no terminal for the passphrase',
    () => ['init', ...V(), '--admin-name', 'A', '--organisation', 'O'],
    /stdin is not a terminal/,
  ],
  [
    'init with a missing passphrase file',
    () => ['init', ...V(), '--admin-name', 'A', '--organisation', 'O', '--passphrase-file', 'missing.pass'],
    /cannot read the passphrase file missing\.pass \(ENOENT\)/,
  ],
  ['custodian with an unknown action', () => ['custodian', 'remove'], /expected 'custodian add'.* got 'remove'/],
  [
    'custodian add with an unknown role',
    () => ['custodian', 'add', ...V(), '--as', 'a', '--name', 'N', '--organisation', 'O', '--role', 'boss'],
    /--role must be one of admin, password-custodian/,
  ],
  [
    'custodian add without --as',
    () => ['custodian', 'add', ...V(), '--name', 'N', '--organisation', 'O', '--role', 'reviewer'],
    /--as is required/,
  ],
  ['custodian revoke without --reason', () => ['custodian', 'revoke', ...V(), '--as', 'a', '--custodian', 'c'], /--reason is required/],
  [
    'custodian revoke with the passphrase on argv',
    () => ['custodian', 'revoke', ...V(), '--as', 'a', '--custodian', 'c', '--reason', 'r', '--admin-passphrase', 'x'],
    /Unknown option '--admin-passphrase'/,
  ],
  ['custodian list with --vault missing its value', () => ['custodian', 'list', '--vault'], /Option '--vault <value>' argument missing/],
  ['recover with the key on argv', () => ['recover', ...V(), '--recovery-key', 'HK1-AAAA'], /Unknown option '--recovery-key'/],
  ['recover without --vault', () => ['recover'], /--vault is required/],
  [
    'recover with a missing key file',
    () => ['recover', ...V(), '--recovery-key-file', 'missing.key'],
    /cannot read the recovery key file missing\.key \(ENOENT\)/,
  ],
  ['account with an unknown action', () => ['account', 'remove'], /expected 'halfkey account add', got 'remove'/],
  [
    'account add without --id',
    () => ['account', 'add', ...AS(), '--alias', 'a', '--email', 'r@example.com', '--organisation', 'O'],
    /--id is required/,
  ],
  [
    'account add with a value on a flag',
    () => [
      'account',
      'add',
      ...AS(),
      '--id',
      ACCOUNT,
      '--alias',
      'a',
      '--email',
      'r@example.com',
      '--organisation',
      'O',
      '--exclusive=yes',
    ],
    /Option '--exclusive' does not take an argument/,
  ],
  [
    'half set with an unknown item',
    () => ['half', 'set', ...AS(), '--account', ACCOUNT, '--item', 'seed'],
    /--item must be one of password, mfa, got 'seed'/,
  ],
  [
    'half set of a password as a hardware token',
    () => ['half', 'set', ...AS(), '--account', ACCOUNT, '--item', 'password', '--token-serial', 'S1'],
    /a hardware token can only be the mfa half/,
  ],
  [
    'half set with both a secret file and a token',
    () => ['half', 'set', ...AS(), '--account', ACCOUNT, '--item', 'mfa', '--secret-file', 'short.txt', '--token-serial', 'S1'],
    /give either --secret-file or the token options, not both/,
  ],
  [
    'half set with a missing secret file',
    () => ['half', 'set', ...AS(), '--account', ACCOUNT, '--item', 'password', '--secret-file', 'missing.txt'],
    /cannot read the secret file missing\.txt \(ENOENT\)/,
  ],
  [
    'half set with the password on argv',
    () => ['half', 'set', ...AS(), '--account', ACCOUNT, '--item', 'password', '--password', 'x'],
    /Unknown option '--password'/,
  ],
  [
    'assign with an unknown item',
    () => ['assign', ...AS(), '--account', ACCOUNT, '--item', 'root', '--custodian', 'c'],
    /--item must be one of password, mfa, email, phone, got 'root'/,
  ],
  ['assign without --custodian', () => ['assign', ...AS(), '--account', ACCOUNT, '--item', 'password'], /--custodian is required/],
  ['checkout without --reason', () => ['checkout', ...AS(), '--account', ACCOUNT, '--item', 'password'], /--reason is required/],
  [
    'checkout with an unreadable lease',
    () => ['checkout', ...AS(), '--account', ACCOUNT, '--item', 'password', '--reason', 'r', '--lease', 'forever'],
    /--lease must look like 90s, 15m or 2h, got 'forever'/,
  ],
  [
    'checkout with a lease over 7 days',
    () => ['checkout', ...AS(), '--account', ACCOUNT, '--item', 'password', '--reason', 'r', '--lease', '200h'],
    /--lease must be between 1 second and 7 days/,
  ],
  [
    'checkout with a zero lease',
    () => ['checkout', ...AS(), '--account', ACCOUNT, '--item', 'password', '--reason', 'r', '--lease', '0s'],
    /--lease must be between 1 second and 7 days/,
  ],
  ['checkin without --checkout', () => ['checkin', ...AS()], /--checkout is required/],
  ['checkin with an unknown option', () => ['checkin', ...AS(), '--checkout', 'c', '--force'], /Unknown option '--force'/],
  [
    'rotate with too short a length',
    () => ['rotate', ...AS(), '--account', ACCOUNT, '--item', 'password', '--length', '7'],
    /--length must be a whole number from 8 to 128/,
  ],
  [
    'rotate with a non-numeric length',
    () => ['rotate', ...AS(), '--account', ACCOUNT, '--item', 'password', '--length', 'long'],
    /--length must be a whole number from 8 to 128/,
  ],
  [
    'rotate a password with a seed file',
    () => ['rotate', ...AS(), '--account', ACCOUNT, '--item', 'password', '--seed-file', 'short.txt'],
    /--seed-file is for an mfa rotation/,
  ],
  ['journal without a subcommand', () => ['journal'], /usage:\n {2}halfkey journal verify/],
  ['journal with an unknown subcommand', () => ['journal', 'frobnicate'], /unknown subcommand 'frobnicate'/],
  ['journal verify without a bundle', () => ['journal', 'verify'], /expected 1 argument\(s\), got 0/],
  ['journal verify of a missing bundle', () => ['journal', 'verify', 'missing.hkj'], /no bundle at .*missing\.hkj/],
  [
    'journal verify with a malformed server key',
    () => ['journal', 'verify', 'empty.hkj', '--server-key', 'XYZ'],
    /--server-key must be 64 lowercase hex characters/,
  ],
  ['journal verify with too many workers', () => ['journal', 'verify', 'empty.hkj', '--workers', '65'], /--workers must be 0\.\.64/],
  [
    'journal verify with a missing CSV to check',
    () => ['journal', 'verify', 'empty.hkj', '--csv', 'missing.csv'],
    /no CSV at .*missing\.csv/,
  ],
  ['journal export without --out', () => ['journal', 'export', ...V()], /--vault and --out are required/],
  [
    'journal export of a folder without a vault',
    () => ['journal', 'export', '--vault', 'nowhere', '--out', 'x.hkj'],
    /no vault at .*nowhere \(vault\.db is missing\)/,
  ],
  [
    'journal export with a bad --from',
    () => ['journal', 'export', ...V(), '--out', 'x.hkj', '--from', 'abc'],
    /--from must be a sequence number, got 'abc'/,
  ],
  ['server enroll-token without --db', () => ['server', 'enroll-token'], /--db is required/],
  [
    'server enroll-token with an unknown database scheme',
    () => ['server', 'enroll-token', '--db', 'mysql://x'],
    /halfkey server: .*(sqlite|postgres)/,
  ],
  [
    'server enroll-token with a bad TTL',
    () => ['server', 'enroll-token', '--db', 'sqlite:server.db', '--ttl', 'forever'],
    /halfkey server: .*ttl/i,
  ],
  [
    'server revoke-device with a malformed key',
    () => ['server', 'revoke-device', '--db', 'sqlite:server.db', '--device', 'xyz'],
    /--device must be the device key \(64 hex\)/,
  ],
  [
    'server with half of the TLS pair',
    () => ['server', '--db', 'sqlite:server.db', '--tls-cert', 'cert.pem'],
    /--tls-cert and --tls-key go together/,
  ],
  [
    'server with a malformed --listen',
    () => ['server', '--db', 'sqlite:server.db', '--listen', 'nowhere'],
    /--listen must be HOST:PORT, not "nowhere"/,
  ],
  ['sync without --vault', () => ['sync'], /--vault is required/],
  [
    'sync with the token on the command line',
    () => ['sync', ...V(), '--enroll', 'http://127.0.0.1:9', '--token', 't'],
    /--token is refused: an enrolment token on the command line/,
  ],
  ['sync --enroll without a token', () => ['sync', ...V(), '--enroll', 'http://127.0.0.1:9'], /--enroll needs --token-file/],
  [
    'sync with a missing token file',
    () => ['sync', ...V(), '--enroll', 'http://127.0.0.1:9', '--token-file', 'missing.token'],
    /cannot read the enrolment token file missing\.token \(ENOENT\)/,
  ],
];

describe('CLI: malformed arguments exit 2, name the problem, and change nothing', () => {
  it.each(usageCases)(
    '%s',
    async (_label, args, message) => {
      const before = snapshot();
      const run = await runHalfkey(work, args());
      expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 2, stderr: expect.stringMatching(message) });
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(snapshot()).toEqual(before);
    },
    60_000,
  );

  // These pass parsing, so the acting custodian is unlocked (one journaled custodian.unlocked),
  // then the custody service refuses the value: no custody row, no custody entry.
  const serviceCases: readonly Case[] = [
    [
      'account add with an 11-digit id',
      () => ['account', 'add', ...AS(), '--id', '12345678901', '--alias', 'a', '--email', 'r@example.com', '--organisation', 'O'],
      /12 digits/,
    ],
    [
      'account add with a malformed root e-mail',
      () => ['account', 'add', ...AS(), '--id', ACCOUNT, '--alias', 'a', '--email', 'root-at-example', '--organisation', 'O'],
      /name@example\.com/,
    ],
    [
      'half set with a 6-character password',
      () => ['half', 'set', ...AS(), '--account', ACCOUNT, '--item', 'password', '--secret-file', 'short.txt'],
      /8 to 128 characters/,
    ],
  ];
  it.each(serviceCases)(
    '%s',
    async (_label, args, message) => {
      const before = snapshot();
      const headSeq = Number(before.head.split(':')[0]);
      const run = await runHalfkey(work, args());
      expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 2, stderr: expect.stringMatching(message) });
      const after = snapshot();
      expect(after.files).toEqual(before.files);
      expect(dumpTables(join(vaultDir, 'vault.db'), (t) => t.startsWith('custody'))).toBe(
        before.tables
          .split('\n')
          .filter((line) => line.startsWith('custody'))
          .join('\n'),
      );
      expect(entryTypesAfter(headSeq).filter((type) => !/^(custodian\.unlocked|session\.(started|ended)|checkpoint)$/.test(type))).toEqual(
        [],
      );
    },
    60_000,
  );

  it('custodian add with a weak passphrase is refused by name and enrols no one (no row, no custodian.enrolled)', async () => {
    writeFileSync(join(work, 'weak.pass'), 'password1234\n');
    const before = snapshot();
    const headSeq = Number(before.head.split(':')[0]);
    const run = await runHalfkey(work, [
      'custodian',
      'add',
      ...V(),
      '--as',
      adminId,
      '--name',
      'Wes Weak',
      '--organisation',
      'Customer',
      '--role',
      'reviewer',
      '--passphrase-file',
      'weak.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    // vault-admin commands exit 1 for a refused value (custody commands exit 2 for INVALID_PAYLOAD).
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/passphrase is too weak: .*common word "password".*\[INVALID_PAYLOAD\]/);
    expect(run.stderr).not.toContain('password1234');
    const after = snapshot();
    expect(after.tables.split('\n').filter((l) => l.startsWith('custodians:'))).toEqual(
      before.tables.split('\n').filter((l) => l.startsWith('custodians:')),
    );
    expect(entryTypesAfter(headSeq)).not.toContain('custodian.enrolled');
  }, 60_000);
});

describe('API router: malformed payloads get INVALID_PAYLOAD naming the field, and nothing is written', () => {
  let services: AppServices;
  let router: ApiRouter;

  beforeAll(async () => {
    services = await openAppServices({ mode: 'preview', vaultDir });
    router = createRouter(createHandlerTable(services));
    const unlocked = await router.call('custodian:unlock', { custodianId: adminId, passphrase: ADMIN_PASSPHRASE }, { adapter: 'test' });
    expect(unlocked.ok).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await services?.close();
  });

  const long = (n: number) => 'x'.repeat(n);
  const account = () => ({ by: adminId, accountId: ACCOUNT, alias: 'prod', rootEmail: 'root@example.com', organisation: 'Customer' });
  type PayloadCase = readonly [label: string, channel: string, payload: () => unknown, field: string];
  const payloadCases: readonly PayloadCase[] = [
    ['account id of the wrong type', 'custody:account-add', () => ({ ...account(), accountId: 210987654321 }), 'accountId'],
    ['account without an alias', 'custody:account-add', () => ({ ...account(), alias: undefined }), 'alias'],
    ['account with an extra secret field', 'custody:account-add', () => ({ ...account(), password: 'Hunter2-Hunter2' }), 'payload'],
    ['account with an oversized alias', 'custody:account-add', () => ({ ...account(), alias: long(101) }), 'alias'],
    ['account with oversized notes', 'custody:account-add', () => ({ ...account(), notes: long(2001) }), 'notes'],
    ['account alias with a control character', 'custody:account-add', () => ({ ...account(), alias: 'prod\u0007' }), 'alias'],
    [
      'half with a password of the wrong type',
      'custody:half-set',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'password', secret: { kind: 'password', password: 12345678 } }),
      'secret.password',
    ],
    [
      'half without an item',
      'custody:half-set',
      () => ({ by: adminId, accountId: ACCOUNT, secret: { kind: 'password', password: 'Long-enough-1' } }),
      'item',
    ],
    [
      'half with an oversized seed',
      'custody:half-set',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'mfa', secret: { kind: 'totp', seed: long(2049) } }),
      'secret.seed',
    ],
    [
      'half of an unknown kind',
      'custody:half-set',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'mfa', secret: { kind: 'sms', number: '+441632960000' } }),
      'secret.kind',
    ],
    [
      'assignment of an unknown item',
      'custody:assign',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'root', custodianId: adminId }),
      'item',
    ],
    [
      'checkout with a lease as a string',
      'custody:checkout',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'password', reason: 'r', leaseSeconds: '60' }),
      'leaseSeconds',
    ],
    [
      'checkout with an oversized reason',
      'custody:checkout',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'password', reason: long(501), leaseSeconds: 60 }),
      'reason',
    ],
    ['checkin with a malformed checkout id', 'custody:checkin', () => ({ by: adminId, checkoutId: 'not-an-id' }), 'checkoutId'],
    [
      'rotation with too short a password',
      'custody:rotate',
      () => ({ by: adminId, accountId: ACCOUNT, item: 'password', password: { length: 7 } }),
      'password.length',
    ],
    [
      'enrolment with an unknown role',
      'custodian:enrol',
      () => ({ by: adminId, name: 'N', organisation: 'O', role: 'boss', passphrase: 'p' }),
      'role',
    ],
    [
      'enrolment with an extra field',
      'custodian:enrol',
      () => ({ by: adminId, name: 'N', organisation: 'O', role: 'reviewer', passphrase: 'p', admin: true }),
      'payload',
    ],
    ['unlock with an oversized passphrase', 'custodian:unlock', () => ({ custodianId: adminId, passphrase: long(1025) }), 'passphrase'],
    ['unlock with a malformed custodian id', 'custodian:unlock', () => ({ custodianId: '../admin', passphrase: 'p' }), 'custodianId'],
    ['recovery with an oversized key', 'vault:recover', () => ({ recoveryKey: long(201) }), 'recoveryKey'],
    ['export to a relative path', 'journal:export', () => ({ out: 'journal.hkj' }), 'out'],
    ['journal list with a zero limit', 'journal:list', () => ({ limit: 0 }), 'limit'],
    ['sync enrolment without a token', 'sync:enrol', () => ({ url: 'http://127.0.0.1:9' }), 'token'],
    ['a payload that is not an object', 'vault:lock', () => 'lock everything', 'payload'],
  ];

  it.each(payloadCases)('%s (%s)', async (_label, channel, payload, field) => {
    const before = snapshot();
    const headSeq = Number(before.head.split(':')[0]);
    const result = await router.call(channel, payload(), { adapter: 'test' });
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field } } });
    if (!result.ok) {
      expect(result.error.message).toContain(`${channel}: ${field}:`);
      // The refusal names the field, never a value that was sent (enum words such as "password" are also field names, hence the length).
      for (const sent of stringsIn(payload()).filter((v) => v.length >= 10))
        expect(JSON.stringify(result.error)).not.toContain(sent.slice(0, 40));
    }
    const after = snapshot();
    // The open app writes heartbeat checkpoints on its own; anything else would be this call's.
    expect(entryTypesAfter(headSeq).filter((type) => type !== 'checkpoint')).toEqual([]);
    expect(after.tables.split('\n').filter((l) => !l.startsWith('journal'))).toEqual(
      before.tables.split('\n').filter((l) => !l.startsWith('journal')),
    );
    expect(after.files).toEqual(before.files);
  });

  it('a well-formed request the service refuses (no such account) writes nothing either', async () => {
    const before = snapshot();
    const result = await router.call(
      'custody:half-set',
      { by: adminId, accountId: ACCOUNT, item: 'password', secret: { kind: 'password', password: 'Long-enough-Passw0rd' } },
      { adapter: 'test' },
    );
    expect(result).toMatchObject({ ok: false, error: { code: expect.stringMatching(/NOT_FOUND|NOT_PERMITTED|POLICY_REFUSED/) } });
    if (!result.ok) expect(result.error.message).toMatch(new RegExp(ACCOUNT));
    expect(dumpTables(join(vaultDir, 'vault.db'), (t) => t.startsWith('custody'))).toBe(
      before.tables
        .split('\n')
        .filter((line) => line.startsWith('custody'))
        .join('\n'),
    );
  });
});
