import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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

  it('refuses a range past the head or running backwards, and journals a partial export', () => {
    // The vault's own SQLite file, read directly: what each command left in the journal.
    const journal = (): { seq: number; type: string; data: string }[] => {
      const db = new Database(join(dir, 'vault.db'), { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT seq, type, data FROM journal_entries ORDER BY seq').all() as {
          seq: number;
          type: string;
          data: string;
        }[];
      } finally {
        db.close();
      }
    };
    const before = journal().length;
    const backwards = halfkey('journal', 'export', '--vault', dir, '--out', join(dir, 'back.hkj'), '--from', '150', '--to', '20');
    expect(backwards.status).toBe(2);
    expect(backwards.stderr).toMatch(/--to 20 is before --from 150/);
    // Refused before the vault was opened: not even a session was written.
    expect(journal().length).toBe(before);
    expect(existsSync(join(dir, 'back.hkj'))).toBe(false);

    const past = halfkey('journal', 'export', '--vault', dir, '--out', join(dir, 'past.hkj'), '--from', '99999');
    expect(past.status).toBe(2);
    expect(past.stderr).toMatch(/--from 99999 is after the journal's last entry/);
    expect(existsSync(join(dir, 'past.hkj'))).toBe(false);
    expect(journal().some((e) => e.seq >= before && e.type === 'journal.exported')).toBe(false);

    const partial = halfkey('journal', 'export', '--vault', dir, '--out', join(dir, 'part.hkj'), '--to', '1');
    expect(partial.status).toBe(0);
    expect(partial.stdout).toMatch(/entries 0\.\.1,/);
    const exported = journal().filter((e) => e.type === 'journal.exported');
    expect(JSON.parse(exported[exported.length - 1]!.data)).toEqual({ from: 0, to: 1 });
    expect(halfkey('journal', 'verify', join(dir, 'part.hkj')).stdout).toContain('Result: VALID');
  });
});
