import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { Vault } from '../../electron/vault/vault';

let dir: string;

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  dir = mkdtempSync(join(tmpdir(), 'halfkey-jcli-'));
  const { vault } = await Vault.create(dir, await openKeytarKeychain(), {
    admin: { name: 'Ada Admin', organisation: 'Provider Ltd', passphrase: 'correct horse battery staple 42' },
  });
  vault.close();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const halfkey = (...args: string[]) =>
  spawnSync(process.execPath, ['build/halfkey.mjs', ...args], { encoding: 'utf8', env: process.env, timeout: 60_000 });

describe('halfkey journal on a real vault (device key from the OS keychain)', () => {
  it('exports with the keychain device key and verifies the bundle, CSV and PDF from the command line', () => {
    const out = join(dir, 'journal.hkj');
    const exported = halfkey(
      'journal',
      'export',
      '--vault',
      dir,
      '--out',
      out,
      '--csv',
      join(dir, 'journal.csv'),
      '--pdf',
      join(dir, 'journal.pdf'),
    );
    expect(exported.stderr).toBe('');
    expect(exported.status).toBe(0);
    expect(exported.stdout).toMatch(/wrote .*journal\.hkj: entries 0\.\.\d+, head [0-9a-f]{64}/);
    const verified = halfkey('journal', 'verify', out, '--csv', join(dir, 'journal.csv'));
    expect(verified.status).toBe(0);
    expect(verified.stdout).toContain('Result: VALID');
    expect(verified.stdout).toMatch(/1\/1 manifest valid/);
  });

  it('exits 2 on bad arguments, a missing bundle and a folder without a vault', () => {
    expect(halfkey('journal', 'export', '--vault', dir).status).toBe(2);
    expect(halfkey('journal', 'verify', join(dir, 'missing.hkj')).status).toBe(2);
    const other = mkdtempSync(join(tmpdir(), 'halfkey-jcli-none-'));
    try {
      const r = halfkey('journal', 'export', '--vault', other, '--out', join(other, 'x.hkj'));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/no vault at/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
