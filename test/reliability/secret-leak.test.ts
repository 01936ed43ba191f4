import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { openWithKey, passphraseKey } from '../../electron/vault/passphrase';
import { formatRecoveryKey, parseRecoveryKey } from '../../electron/vault/recovery-key';
import { Vault } from '../../electron/vault/vault';
import { sodiumReady } from '../../shared/sodium';
import {
  base32,
  byteMarker,
  dumpTables,
  leaksInBytes,
  leaksInFolder,
  leaksInText,
  runHalfkey,
  textMarker,
  type CliRun,
  type Marker,
} from '../support/leak-scan';

// One realistic journey on a real vault (real keychain through build/with-keyring.sh, real
// SQLite, real libsodium, a real server process on loopback), driven through the CLI in child
// processes and then the API router. Every secret is a unique marker; the test looks for each
// marker (and its hex/base64/base32 forms) everywhere a secret must never land.

const CLI = fileURLToPath(new URL('../../build/halfkey.mjs', import.meta.url));
const tag = randomBytes(6).toString('hex');
const PASS = {
  admin: `orchid ${tag} tundra lantern 71`,
  pat: `walnut ${tag} cascade ribbon 38`,
  mia: `saffron ${tag} glacier pebble 52`,
} as const;
const PASSWORD = `Pw!${tag}-Initial-9q`;
const SEED_BYTES = new Uint8Array(randomBytes(20));
const SEED = base32(SEED_BYTES);
const WRONG_PASSPHRASE = `wrong ${tag} guess attempt 11`;
const ACCOUNT = `4${String(Date.now()).slice(-11)}`;

let work: string;
let vaultDir: string;
let vaultId = '';
let recoveryKey = '';
let rotatedPassword = '';
let enrolToken = '';
const runs: { label: string; run: CliRun }[] = [];
const markers: Marker[] = [];
let server: ChildProcess | null = null;
let serverLog = '';
/** Every text the journey produced outside the CLI (exports, logs, API results), for the last check. */
const corpus: { label: string; text: string }[] = [];
function scanned(label: string, text: string): string {
  corpus.push({ label, text });
  return text;
}

async function halfkey(label: string, args: string[]): Promise<CliRun> {
  const run = await runHalfkey(work, args);
  runs.push({ label, run });
  return run;
}
async function ok(label: string, args: string[]): Promise<CliRun> {
  const run = await halfkey(label, args);
  if (run.code !== 0) throw new Error(`${label}: exit ${run.code}\n${run.stderr}`);
  return run;
}
const as = (who: keyof typeof PASS, id: string) => ['--vault', vaultDir, '--as', id, '--passphrase-file', `${who}.pass`];

/** Every marker known so far; the recovery key, device master and rotated password join as they appear. */
function allMarkers(): Marker[] {
  return markers;
}

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('This test needs a real Secret Service: run it through build/with-keyring.sh (npm test does).');
  work = mkdtempSync(join(tmpdir(), 'halfkey-leak-'));
  vaultDir = join(work, 'vault');
  for (const [who, pass] of Object.entries(PASS)) {
    writeFileSync(join(work, `${who}.pass`), `${pass}\n`);
    markers.push(textMarker(`${who} passphrase`, pass));
  }
  writeFileSync(join(work, 'wrong.pass'), `${WRONG_PASSPHRASE}\n`);
  markers.push(textMarker('wrong passphrase', WRONG_PASSPHRASE));
  writeFileSync(join(work, 'password.txt'), `${PASSWORD}\n`);
  markers.push(textMarker('password', PASSWORD));
  writeFileSync(join(work, 'seed.uri'), `otpauth://totp/AWS:root%40example.com?secret=${SEED}&issuer=AWS&period=30&digits=6\n`);
  // A URI the parser refuses (digits out of range), carrying the real seed.
  writeFileSync(join(work, 'bad-seed.uri'), `otpauth://totp/AWS:root?secret=${SEED}&digits=11\n`);
  writeFileSync(join(work, 'bad-seed.b32'), `${SEED.slice(0, 20)}1${SEED.slice(21)}\n`);
  markers.push(byteMarker('TOTP seed', SEED_BYTES));
}, 30_000);

afterAll(async () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('secrets never leak sideways', () => {
  const ids = { admin: '', pat: '', mia: '' };

  it('CLI journey: init, enrol, account, halves, assign, checkout, reveal, codes, checkin, rotate', async () => {
    const init = await ok('init', [
      'init',
      '--vault',
      vaultDir,
      '--admin-name',
      'Ada Admin',
      '--organisation',
      'Provider',
      '--passphrase-file',
      'admin.pass',
    ]);
    vaultId = /Vault ([0-9a-f]{32}) created/.exec(init.stdout)?.[1] ?? '';
    ids.admin = /custodian id (\S+)/.exec(init.stdout)?.[1] ?? '';
    recoveryKey = /(HK1(?:-[0-9A-Z]+)+)/.exec(init.stdout)?.[1] ?? '';
    expect(vaultId).toMatch(/^[0-9a-f]{32}$/);
    expect(recoveryKey).not.toBe('');
    const sodium = await sodiumReady();
    markers.push(byteMarker('recovery key', parseRecoveryKey(recoveryKey, sodium), [recoveryKey, recoveryKey.replace(/-/g, '')]));
    const stored = await (await openKeytarKeychain()).get(deviceAccount(vaultId));
    expect(stored).not.toBeNull();
    markers.push(byteMarker('device master', sodium.from_base64(stored!, sodium.base64_variants.ORIGINAL), [stored!]));
    // The recovery key is printed once, by init, exactly once.
    expect(init.stdout.split(recoveryKey)).toHaveLength(2);

    const pat = await ok('custodian add pat', [
      'custodian',
      'add',
      '--vault',
      vaultDir,
      '--as',
      ids.admin,
      '--name',
      'Pat Password',
      '--organisation',
      'Customer',
      '--role',
      'password-custodian',
      '--passphrase-file',
      'pat.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    ids.pat = /custodian id (\S+)/.exec(pat.stdout)?.[1] ?? '';
    const mia = await ok('custodian add mia', [
      'custodian',
      'add',
      '--vault',
      vaultDir,
      '--as',
      ids.admin,
      '--name',
      'Mia Mfa',
      '--organisation',
      'Provider',
      '--role',
      'mfa-custodian',
      '--passphrase-file',
      'mia.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    ids.mia = /custodian id (\S+)/.exec(mia.stdout)?.[1] ?? '';
    await ok('custodian list', ['custodian', 'list', '--vault', vaultDir, '--json']);

    await ok('account add', [
      'account',
      'add',
      ...as('admin', ids.admin),
      '--id',
      ACCOUNT,
      '--alias',
      'prod-root',
      '--email',
      'root@example.com',
      '--organisation',
      'Customer',
    ]);
    await ok('assign password', ['assign', ...as('admin', ids.admin), '--account', ACCOUNT, '--item', 'password', '--custodian', ids.pat]);
    await ok('assign mfa', ['assign', ...as('admin', ids.admin), '--account', ACCOUNT, '--item', 'mfa', '--custodian', ids.mia]);
    await ok('half set password', [
      'half',
      'set',
      ...as('pat', ids.pat),
      '--account',
      ACCOUNT,
      '--item',
      'password',
      '--secret-file',
      'password.txt',
    ]);
    await ok('half set mfa', ['half', 'set', ...as('mia', ids.mia), '--account', ACCOUNT, '--item', 'mfa', '--secret-file', 'seed.uri']);

    // The password is printed where the custodian asked for it, once.
    const out = await ok('checkout password', [
      'checkout',
      ...as('pat', ids.pat),
      '--account',
      ACCOUNT,
      '--item',
      'password',
      '--reason',
      'INC-1 root task',
      '--lease',
      '5m',
    ]);
    expect(out.stdout.split(PASSWORD)).toHaveLength(2);
    // A positive control: the scanner finds the marker where it is meant to be.
    expect(leaksInText(out.stdout, allMarkers())).toEqual(['password']);
    expect(leaksInText(init.stdout, allMarkers())).toEqual(['recovery key']);
    const pwCheckout = /checkout ([0-9a-f]{32})/.exec(out.stdout)?.[1] ?? '';

    // The MFA custodian gets a current code (cross-checked with oathtool), never the seed.
    const code = await ok('checkout mfa', [
      'checkout',
      ...as('mia', ids.mia),
      '--account',
      ACCOUNT,
      '--item',
      'mfa',
      '--reason',
      'INC-1 root task',
      '--lease',
      '5m',
    ]);
    const shown = /^(\d{6}) \(valid for/m.exec(code.stdout)?.[1];
    const window = execFileSync('oathtool', ['--totp', '-b', '-w', '1', SEED], { encoding: 'utf8' }).trim().split('\n');
    expect(window).toContain(shown);
    const mfaCheckout = /checkout ([0-9a-f]{32})/.exec(code.stdout)?.[1] ?? '';

    await ok('checkin password', ['checkin', ...as('pat', ids.pat), '--checkout', pwCheckout]);
    await ok('checkin mfa', ['checkin', ...as('mia', ids.mia), '--checkout', mfaCheckout]);
    const rotated = await ok('rotate password', [
      'rotate',
      ...as('pat', ids.pat),
      '--account',
      ACCOUNT,
      '--item',
      'password',
      '--length',
      '32',
    ]);
    rotatedPassword = rotated.stdout.trim().split('\n').at(-1) ?? '';
    expect(rotatedPassword).toHaveLength(32);
    markers.push(textMarker('rotated password', rotatedPassword));
    expect(rotated.stdout.split(rotatedPassword)).toHaveLength(2);
  }, 300_000);

  it('CLI error paths with secrets in the input do not echo them', async () => {
    const badUri = await halfkey('half set malformed otpauth URI', [
      'half',
      'set',
      ...as('mia', ids.mia),
      '--account',
      ACCOUNT,
      '--item',
      'mfa',
      '--secret-file',
      'bad-seed.uri',
    ]);
    expect(badUri.code).toBe(2);
    expect(badUri.stderr).toMatch(/MFA seed was not accepted/);
    const badB32 = await halfkey('half set mistyped base32', [
      'half',
      'set',
      ...as('mia', ids.mia),
      '--account',
      ACCOUNT,
      '--item',
      'mfa',
      '--secret-file',
      'bad-seed.b32',
    ]);
    expect(badB32.code).toBe(2);
    expect(badB32.stderr).toMatch(/MFA seed was not accepted/);
    expect(badB32.stderr).not.toContain(SEED.slice(0, 20));

    const wrong = await halfkey('wrong passphrase', [
      'checkout',
      '--vault',
      vaultDir,
      '--as',
      ids.pat,
      '--passphrase-file',
      'wrong.pass',
      '--account',
      ACCOUNT,
      '--item',
      'password',
      '--reason',
      'guess',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toMatch(/passphrase/i);

    // A mistyped recovery key (one character changed) and a well-formed key of another vault.
    const sodium = await sodiumReady();
    const flip = recoveryKey.endsWith('A') ? 'B' : 'A';
    writeFileSync(join(work, 'typo.key'), `${recoveryKey.slice(0, -1)}${flip}\n`);
    const foreignBytes = sodium.randombytes_buf(30);
    const foreign = formatRecoveryKey(foreignBytes, sodium);
    markers.push(byteMarker('foreign recovery key', foreignBytes, [foreign, foreign.replace(/-/g, '')]));
    writeFileSync(join(work, 'foreign.key'), `${foreign}\n`);
    const typo = await halfkey('recover with a typo', ['recover', '--vault', vaultDir, '--recovery-key-file', 'typo.key']);
    expect(typo.code).toBe(2); // a mistyped key is bad input
    expect(typo.stderr).toMatch(/check group/);
    expect(typo.stderr).not.toContain(recoveryKey.slice(4, 30));
    const other = await halfkey('recover with another vault key', ['recover', '--vault', vaultDir, '--recovery-key-file', 'foreign.key']);
    expect(other.code).toBe(1);
    expect(other.stderr).not.toBe('');
  }, 120_000);

  it('journal export (bundle, CSV, PDF) and verify', async () => {
    await ok('journal export', [
      'journal',
      'export',
      '--vault',
      vaultDir,
      '--out',
      'journal.hkj',
      '--csv',
      'journal.csv',
      '--pdf',
      'journal.pdf',
    ]);
    const verified = await ok('journal verify', ['journal', 'verify', 'journal.hkj', '--csv', 'journal.csv']);
    expect(verified.stdout).toMatch(/Result: VALID/);
    const bundle = scanned('bundle', readFileSync(join(work, 'journal.hkj'), 'utf8'));
    // The bundle holds the whole journey, so the absence below is not the absence of entries.
    expect(bundle).toMatch(/custody\.checkout|checkout\.opened|custody\./);
    expect(leaksInText(bundle, allMarkers())).toEqual([]);
    expect(leaksInText(scanned('csv', readFileSync(join(work, 'journal.csv'), 'utf8')), allMarkers())).toEqual([]);
    const pdfText = scanned('pdf text', execFileSync('pdftotext', ['-layout', join(work, 'journal.pdf'), '-'], { encoding: 'utf8' }));
    expect(pdfText).toContain(ACCOUNT);
    expect(leaksInText(pdfText, allMarkers())).toEqual([]);
    expect(leaksInBytes(readFileSync(join(work, 'journal.pdf')), allMarkers())).toEqual([]);
  }, 120_000);

  it('sync to a real server on loopback: its logs and database hold no secret', async () => {
    const db = `sqlite:${join(work, 'server.db')}`;
    const token = await ok('server enroll-token', ['server', 'enroll-token', '--db', db, '--ttl', '15m']);
    enrolToken = token.stdout.trim();
    expect(enrolToken.length).toBeGreaterThan(16);
    markers.push(textMarker('enrolment token', enrolToken));
    writeFileSync(join(work, 'token.txt'), `${enrolToken}\n`);

    const child = spawn(process.execPath, [CLI, 'server', '--db', db, '--listen', '127.0.0.1:0'], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    child.stdout!.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        serverLog += chunk.toString();
        const found = /listening on (\S+)/.exec(err);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      });
    });
    const synced = await ok('sync --enroll', ['sync', '--vault', vaultDir, '--enroll', url, '--token-file', 'token.txt']);
    expect(synced.stdout).toMatch(/pending entries: 0/);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    server = null;
    // pino logged the requests: the check below is over real log lines.
    expect(serverLog).toMatch(/"req"|request completed|incoming request/);
    expect(leaksInText(scanned('server log', serverLog), allMarkers())).toEqual([]);
    expect(leaksInFolder(work, allMarkers(), (name) => name.startsWith('server.db'))).toEqual({});
    expect(dumpTables(join(work, 'server.db'))).toContain(vaultId);
    expect(leaksInText(scanned('server tables', dumpTables(join(work, 'server.db'))), allMarkers())).toEqual([]);
  }, 120_000);

  describe('through the API router', () => {
    let services: AppServices;
    let router: ApiRouter;
    const logged: string[] = [];

    beforeAll(async () => {
      services = await openAppServices({ mode: 'preview', vaultDir });
      router = createRouter(createHandlerTable(services), (event) => logged.push(JSON.stringify(event)));
    });
    afterAll(async () => {
      await services?.close();
    });

    async function call(channel: string, payload: unknown): Promise<Record<string, unknown>> {
      return (await router.call(channel, payload, { adapter: 'test' })) as unknown as Record<string, unknown>;
    }

    it('errors carrying a wrong passphrase, a seed or a recovery key name the problem without echoing it', async () => {
      const wrong = await call('custodian:unlock', { custodianId: ids.mia, passphrase: WRONG_PASSPHRASE });
      expect(wrong).toMatchObject({ ok: false, error: { code: 'BAD_PASSPHRASE' } });
      expect(await call('custodian:unlock', { custodianId: ids.admin, passphrase: PASS.admin })).toMatchObject({ ok: true });
      // After the one-second back-off, Mia (who holds the MFA half) reaches the seed parser itself.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await call('custodian:unlock', { custodianId: ids.mia, passphrase: PASS.mia })).toMatchObject({ ok: true });
      const badSeed = await call('custody:half-set', {
        by: ids.mia,
        accountId: ACCOUNT,
        item: 'mfa',
        secret: { kind: 'totp', seed: `otpauth://hotp/AWS:root?secret=${SEED}&counter=1` },
      });
      expect(badSeed).toMatchObject({
        ok: false,
        error: { code: 'INVALID_PAYLOAD', message: expect.stringMatching(/MFA seed was not accepted/), detail: { field: 'seed' } },
      });
      const shortPassword = await call('custody:half-set', {
        by: ids.admin,
        accountId: ACCOUNT,
        item: 'password',
        secret: { kind: 'password', password: `${PASSWORD}${'x'.repeat(200)}` },
      });
      expect(shortPassword).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field: 'secret.password' } } });
      // The vault is open here, so recover refuses before parsing (CONFLICT); the CLI test above
      // drives the parser itself. Either way the key must not come back.
      const typo = await call('vault:recover', { recoveryKey: `${recoveryKey.slice(0, -1)}${recoveryKey.endsWith('A') ? 'B' : 'A'}` });
      expect(typo).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^(INVALID_PAYLOAD|CONFLICT)$/) } });
      const tooLong = await call('vault:recover', { recoveryKey: `${recoveryKey} ${recoveryKey} ${recoveryKey} ${recoveryKey}` });
      expect(tooLong).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field: 'recoveryKey' } } });
      const weak = `Password-${tag.slice(0, 8)}`;
      markers.push(textMarker('weak passphrase', weak));
      const enrolWeak = await call('custodian:enrol', {
        by: ids.admin,
        name: 'Wes Weak',
        organisation: 'Customer',
        role: 'password-custodian',
        passphrase: weak,
      });
      expect(enrolWeak).toMatchObject({
        ok: false,
        error: { code: 'INVALID_PAYLOAD', message: expect.stringMatching(/too weak/), detail: { field: 'passphrase' } },
      });

      for (const result of [wrong, badSeed, shortPassword, typo, tooLong, enrolWeak]) {
        expect(leaksInText(scanned('router result', JSON.stringify(result)), allMarkers())).toEqual([]);
      }
      expect(logged.length).toBeGreaterThanOrEqual(6);
      expect(leaksInText(scanned('router log', logged.join('\n')), allMarkers())).toEqual([]);
    }, 120_000);

    it('the vault files hold only ciphertext while the app has the vault open', () => {
      expect(existsSync(join(vaultDir, 'vault.db'))).toBe(true);
      expect(leaksInFolder(vaultDir, allMarkers())).toEqual({});
    });
  });

  it('no CLI output carries a secret except where the person asked for it', () => {
    expect(runs.length).toBeGreaterThan(20);
    const allowed: Record<string, readonly string[]> = {
      init: ['recovery key'],
      'checkout password': ['password'],
      'rotate password': ['rotated password'],
      'server enroll-token': ['enrolment token'],
    };
    for (const { label, run } of runs) {
      expect({ label, stderr: leaksInText(run.stderr, allMarkers()) }).toEqual({ label, stderr: [] });
      const stdoutHits = leaksInText(run.stdout, allMarkers()).filter((name) => !(allowed[label] ?? []).includes(name));
      expect({ label, stdout: stdoutHits }).toEqual({ label, stdout: [] });
    }
  });

  it('the journal rows, and the raw bytes of vault.db and its WAL after closing, hold no secret', () => {
    const journal = dumpTables(join(vaultDir, 'vault.db'), (t) => t.startsWith('journal'));
    expect(journal).toMatch(/custodian\.enrolled/);
    expect(leaksInText(journal, allMarkers())).toEqual([]);
    expect(leaksInText(dumpTables(join(vaultDir, 'vault.db')), allMarkers())).toEqual([]);
    expect(leaksInFolder(vaultDir, allMarkers())).toEqual({});
  });

  it("the custodians' private keys (unwrapped here as unlock does) appear nowhere the journey wrote", async () => {
    const sodium = await sodiumReady();
    const vault = await Vault.open(vaultDir, await openKeytarKeychain());
    const keys: Marker[] = [];
    try {
      for (const [who, id] of Object.entries(ids) as [keyof typeof PASS, string][]) {
        const row = vault.db
          .prepare('SELECT wrapped_keys, kdf_alg, kdf_opslimit, kdf_memlimit, kdf_salt FROM custodians WHERE id = ?')
          .get(id) as { wrapped_keys: Uint8Array; kdf_alg: number; kdf_opslimit: number; kdf_memlimit: number; kdf_salt: Uint8Array };
        const key = passphraseKey(
          PASS[who],
          { alg: row.kdf_alg, opslimit: row.kdf_opslimit, memlimit: row.kdf_memlimit, salt: row.kdf_salt },
          sodium,
        );
        const secretKeys = openWithKey(vault.device.open(row.wrapped_keys, `custodian:${id}:keys`), key, sodium);
        expect(secretKeys).toHaveLength(96);
        keys.push(
          byteMarker(`${who} signing seed`, secretKeys!.slice(0, 32)),
          byteMarker(`${who} box secret key`, secretKeys!.slice(64, 96)),
        );
      }
    } finally {
      vault.close();
    }
    for (const { label, run } of runs) expect({ label, hits: leaksInText(run.stdout + run.stderr, keys) }).toEqual({ label, hits: [] });
    for (const { label, text } of corpus) expect({ label, hits: leaksInText(text, keys) }).toEqual({ label, hits: [] });
    expect(corpus.map((c) => c.label)).toEqual(
      expect.arrayContaining(['bundle', 'csv', 'pdf text', 'server log', 'server tables', 'router result', 'router log']),
    );
    expect(leaksInFolder(vaultDir, keys)).toEqual({});
    expect(leaksInFolder(work, keys, (name) => /^(server\.db|journal\.)/.test(name))).toEqual({});
  }, 60_000);

  it('no file the journey created beside the vault (exports, server database and key, anything temporary) holds a secret', () => {
    const inputs = new Set([
      'admin.pass',
      'pat.pass',
      'mia.pass',
      'wrong.pass',
      'password.txt',
      'seed.uri',
      'bad-seed.uri',
      'bad-seed.b32',
      'typo.key',
      'foreign.key',
      'token.txt',
    ]);
    const created = readdirSync(work).filter((name) => !inputs.has(name));
    expect(created).toEqual(expect.arrayContaining(['journal.hkj', 'journal.csv', 'journal.pdf', 'server.db', 'vault']));
    expect(leaksInFolder(work, allMarkers(), (name) => !inputs.has(name))).toEqual({});
  });

  it('the scanner is not vacuous: it finds every form of every marker, in text and in bytes', () => {
    expect(allMarkers().map((m) => m.name)).toEqual(
      expect.arrayContaining([
        'admin passphrase',
        'password',
        'TOTP seed',
        'recovery key',
        'device master',
        'rotated password',
        'enrolment token',
      ]),
    );
    for (const marker of allMarkers()) {
      for (const form of marker.texts) expect({ form, hits: leaksInText(`…${form}…`, [marker]) }).toEqual({ form, hits: [marker.name] });
      for (const raw of marker.bytes)
        expect(leaksInBytes(Buffer.concat([randomBytes(64), Buffer.from(raw), randomBytes(64)]), [marker])).toEqual([marker.name]);
    }
  });
});
