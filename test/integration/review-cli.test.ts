import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { issueToken } from '../support/sync-fixture';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';

let work: string;
let server: TestServer;
let vaultId = '';
const ids: Record<string, string> = {};

const halfkey = halfkeyIn(() => work);

beforeAll(async () => {
  requireKeyring();
  await sodiumReady();
  work = mkdtempSync(join(tmpdir(), 'halfkey-review-cli-'));
  writeFileSync(join(work, 'admin.pass'), 'orchard lantern pebble 41\n');
  writeFileSync(join(work, 'rita.pass'), 'quarry velvet signal 88\n');
  server = await startTestServer('sqlite');
  const init = await halfkey([
    'init',
    '--vault',
    'vault',
    '--admin-name',
    'Ada Admin',
    '--organisation',
    'Provider Ltd',
    '--passphrase-file',
    'admin.pass',
  ]);
  expect(init.code).toBe(0);
  vaultId = /Vault ([0-9a-f]{32}) created/.exec(init.stdout)?.[1] ?? '';
  ids.admin = /custodian id (\S+)/.exec(init.stdout)?.[1] ?? '';
  const rita = await halfkey([
    'custodian',
    'add',
    '--vault',
    'vault',
    '--as',
    ids.admin,
    '--name',
    'Rita Reviewer',
    '--organisation',
    'Audit',
    '--role',
    'reviewer',
    '--passphrase-file',
    'rita.pass',
    '--admin-passphrase-file',
    'admin.pass',
  ]);
  expect(rita.code).toBe(0);
  ids.rita = /custodian id (\S+)/.exec(rita.stdout)?.[1] ?? '';
  writeFileSync(join(work, 'token'), `${await issueToken(server)}\n`);
  expect((await halfkey(['sync', '--vault', 'vault', '--enroll', server.url, '--token-file', 'token'])).code).toBe(0);
}, 120_000);
afterAll(async () => {
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('halfkey review export', () => {
  it('exits 2 for bad arguments, naming the problem', async () => {
    const missing = await halfkey(['review', 'export', '--vault', 'vault', '--as', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--out is required/);
    const wrong = await halfkey(['review', 'download']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/expected 'review export\|incidents\|alarms\|ack'/);
  });

  it('refuses a vault reviewer the server operator has not granted (exit 3, naming the key), until `halfkey server reviewer grant` (runs before the sign-ins below)', async () => {
    const refused = await halfkey([
      'review',
      'export',
      '--vault',
      'vault',
      '--as',
      ids.rita!,
      '--passphrase-file',
      'rita.pass',
      '--out',
      'early.hkx',
    ]);
    expect(refused.code).toBe(3);
    const list = await halfkey(['custodian', 'list', '--vault', 'vault', '--json']);
    const key = (JSON.parse(list.stdout) as { id: string; signingKey: string }[]).find((c) => c.id === ids.rita)!.signingKey;
    expect(refused.stderr).toMatch(/NOT_A_REVIEWER/);
    expect(refused.stderr).toContain(`halfkey server reviewer grant --db … --key ${key}`);
    for (const f of ['early.hkx', 'early.hkx.part']) expect(existsSync(join(work, f))).toBe(false);

    const grant = await halfkey(['server', 'reviewer', 'grant', '--db', server.dbUrl, '--key', key, '--name', 'Rita Reviewer (Audit)']);
    expect(grant.stderr).toBe('');
    expect(grant.code).toBe(0);
    expect(await server.storage.queries.isReviewerKey(key)).toBe(true);
  });

  it('signs in with the reviewer key, downloads the org-wide export and verifies it under the pinned server key', async () => {
    const result = await halfkey([
      'review',
      'export',
      '--vault',
      'vault',
      '--as',
      ids.rita!,
      '--passphrase-file',
      'rita.pass',
      '--out',
      'org.hkx',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(server.signer.fingerprint);
    expect(existsSync(join(work, 'org.hkx'))).toBe(true);
    expect(existsSync(join(work, 'org.hkx.part'))).toBe(false);
    // The same file passes the reviewer's verifier on its own.
    const verify = await halfkey(['journal', 'verify', 'org.hkx', '--server-key', server.signer.publicKey, '--json']);
    expect(verify.code).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; entries: number; devices: unknown[] };
    expect(report.ok).toBe(true);
    expect(report.devices).toHaveLength(1);
    expect(report.entries).toBe((await server.storage.queries.entriesByLogIndex(0, 10_000)).length);
  });

  it('refuses a custodian who is not a reviewer (exit 3), writing nothing', async () => {
    const admin = await halfkey([
      'review',
      'export',
      '--vault',
      'vault',
      '--as',
      ids.admin!,
      '--passphrase-file',
      'admin.pass',
      '--out',
      'admin.hkx',
    ]);
    expect(admin.code).toBe(3);
    expect(admin.stderr).toMatch(/not as a reviewer/);
    for (const f of ['admin.hkx', 'admin.hkx.part']) expect(existsSync(join(work, f))).toBe(false);
  });

  it('fails (exit 1) when the export does not verify under the key this vault pinned, and keeps the file as evidence', async () => {
    // As if another server (or a man in the middle) answered: the vault pinned a different key.
    const other = (await sodiumReady()).crypto_sign_keypair().publicKey;
    const db = new Database(join(work, 'vault', 'vault.db'));
    const pinned = (db.prepare('SELECT server_key FROM sync_state WHERE id = 1').get() as { server_key: string }).server_key;
    db.prepare('UPDATE sync_state SET server_key = ? WHERE id = 1').run(Buffer.from(other).toString('hex'));
    db.close();
    try {
      const result = await halfkey([
        'review',
        'export',
        '--vault',
        'vault',
        '--as',
        ids.rita!,
        '--passphrase-file',
        'rita.pass',
        '--out',
        'mitm.hkx',
      ]);
      expect(result.code).toBe(1);
      expect(`${result.stdout}${result.stderr}`).toMatch(/FAILED|does not verify/);
      expect(existsSync(join(work, 'mitm.hkx'))).toBe(true);
    } finally {
      const restore = new Database(join(work, 'vault', 'vault.db'));
      restore.prepare('UPDATE sync_state SET server_key = ? WHERE id = 1').run(pinned);
      restore.close();
    }
  });

  it('refuses a wrong passphrase before talking to the server, writing nothing (runs last: wrong passphrases lock the custodian for a while)', async () => {
    const wrong = await halfkey([
      'review',
      'export',
      '--vault',
      'vault',
      '--as',
      ids.rita!,
      '--passphrase-file',
      'admin.pass',
      '--out',
      'wrong.hkx',
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/passphrase/i);
    for (const f of ['wrong.hkx', 'wrong.hkx.part']) expect(existsSync(join(work, f))).toBe(false);
  });
});
