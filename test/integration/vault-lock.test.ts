import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { Keychain } from '../../electron/keychain/keychain';
import { Vault } from '../../electron/vault/vault';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let keychain: Keychain;

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  dir = mkdtempSync(join(tmpdir(), 'halfkey-lock-'));
  keychain = await openKeytarKeychain();
  const { vault } = await Vault.create(dir, keychain, {
    admin: { name: 'Ada Admin', organisation: 'Provider Ltd', passphrase: 'correct horse battery staple 42' },
  });
  vault.close();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The real `halfkey` CLI in its own process. */
const halfkey = (...args: string[]) =>
  spawnSync(process.execPath, ['build/halfkey.mjs', ...args], { cwd: root, encoding: 'utf8', env: process.env, timeout: 60_000 });

async function errorOf(promise: Promise<unknown>): Promise<HalfkeyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HalfkeyError) return error;
    throw error;
  }
  throw new Error('expected a HalfkeyError');
}

/** Another process that opens the vault with the real Vault.open and holds it until killed. */
async function holder(): Promise<ChildProcess> {
  const script = `
    const { Vault } = await import('./electron/vault/vault.ts');
    const { openKeytarKeychain } = await import('./electron/keychain/keytar-keychain.ts');
    await Vault.open(process.argv[1], await openKeytarKeychain());
    console.log('ready');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code}: ${err}`)));
  });
  return child;
}

describe('one writer per vault', () => {
  it('a CLI command against a vault the app holds exits 2 naming the holder, and writes nothing', async () => {
    const vault = await Vault.open(dir, keychain);
    try {
      const before = vault.journal.head();
      for (const args of [
        ['journal', 'export', '--vault', dir, '--out', join(dir, 'x.hkj')],
        ['custodian', 'list', '--vault', dir],
      ]) {
        const r = halfkey(...args);
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toContain(`vault ${dir} is open in another Halfkey process (pid ${process.pid})`);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      // No session.started/session.ended from the CLI landed inside this process's session.
      expect(vault.journal.head()).toEqual(before);
    } finally {
      vault.close();
    }
    // Released on close: the same command now runs.
    const r = halfkey('journal', 'export', '--vault', dir, '--out', join(dir, 'after.hkj'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the app cannot open a vault another process holds; the lock of a killed holder is gone at once', async () => {
    const child = await holder();
    try {
      const busy = await errorOf(Vault.open(dir, keychain));
      expect(busy.code).toBe('CONFLICT');
      expect(busy.detail).toMatchObject({ reason: 'VAULT_IN_USE', pid: child.pid });
      expect(busy.message).toContain(`is open in another Halfkey process (pid ${child.pid})`);
    } finally {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    // A crashed holder leaves its lock file behind, but not its lock: the next open succeeds.
    const vault = await Vault.open(dir, keychain);
    vault.close();
  });

  it('a second open in the same process is refused until the first closes', async () => {
    const vault = await Vault.open(dir, keychain);
    try {
      const again = await errorOf(Vault.open(dir, keychain));
      expect(again.code).toBe('CONFLICT');
      expect(again.message).toMatch(/already open in this Halfkey process/);
      expect(
        (
          await errorOf(
            Vault.create(dir, keychain, { admin: { name: 'X', organisation: 'Y', passphrase: 'correct horse battery staple 42' } }),
          )
        ).code,
      ).toBe('CONFLICT');
    } finally {
      vault.close();
    }
    (await Vault.open(dir, keychain)).close();
  });

  it('opens the vault database in WAL mode with synchronous=FULL, as the journal promises', async () => {
    const vault = await Vault.open(dir, keychain);
    try {
      expect(vault.db.pragma('journal_mode', { simple: true })).toBe('wal');
      // 2 is FULL: a committed append is on disk before the commit returns.
      expect(vault.db.pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      vault.close();
    }
  });
});
