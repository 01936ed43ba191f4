import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { openKeytarKeychain, refusePlaintextBackend } from '../../electron/keychain/keytar-keychain';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

function requireSecretService(): void {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  }
}

describe('keytar keychain on the real Secret Service', () => {
  it('stores, reads, replaces and deletes a secret and names the provider', async () => {
    requireSecretService();
    const keychain = await openKeytarKeychain();
    expect(keychain.backend).toMatch(/^Secret Service \(libsecret\): gnome-keyring/);
    const account = `test:${process.pid}:${Date.now()}`;
    expect(await keychain.get(account)).toBeNull();
    await keychain.set(account, 'first value');
    expect(await keychain.get(account)).toBe('first value');
    await keychain.set(account, 'second value');
    expect(await keychain.get(account)).toBe('second value');
    expect(await keychain.delete(account)).toBe(true);
    expect(await keychain.get(account)).toBeNull();
    expect(await keychain.delete(account)).toBe(false);
  });

  it('refuses a plaintext backend by name', () => {
    expect(() => refusePlaintextBackend('Secret Service (libsecret): basic_text', 'linux')).toThrow(/plaintext and is refused/);
    expect(refusePlaintextBackend('Secret Service (libsecret): gnome-keyring-d', 'linux')).toContain('gnome-keyring');
  });

  it('with no D-Bus session, a child process gets KEYCHAIN_UNAVAILABLE naming the fix and writes no file', async () => {
    const home = mkdtempSync(join(tmpdir(), 'halfkey-nokeyring-'));
    scratch.push(home);
    const script = [
      "const { openKeytarKeychain } = await import('./electron/keychain/keytar-keychain.ts');",
      'try { const k = await openKeytarKeychain({ timeoutMs: 5000 }); await k.set("device:x", "s"); console.log("STORED"); }',
      'catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }',
    ].join('\n');
    const env = {
      ...process.env,
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'dead.sock')}`,
    };
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: root, env, timeout: 30_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string };
    expect(result.code).toBe('KEYCHAIN_UNAVAILABLE');
    expect(result.message).toMatch(/start a Secret Service such as gnome-keyring/);
    expect(result.message).toMatch(/never stores keys in a plaintext file/);
    expect(readdirSync(home)).toEqual([]);
  });

  it('a Secret Service that stops answering (daemon frozen with SIGSTOP) gives a clear timeout error', async () => {
    // A fresh keyring session of its own, so freezing its daemon cannot disturb other tests.
    const script = [
      "const { execFileSync } = await import('node:child_process');",
      "const { openKeytarKeychain } = await import('./electron/keychain/keytar-keychain.ts');",
      "const reply = execFileSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.GetConnectionUnixProcessID', 'string:org.freedesktop.secrets']).toString();",
      'const pid = Number(/uint32 (\\d+)/.exec(reply)[1]);',
      'const keychain = await openKeytarKeychain({ timeoutMs: 1500 });',
      "process.kill(pid, 'SIGSTOP');",
      'const started = Date.now();',
      'let result = { code: "none" };',
      "try { await keychain.get('device:frozen'); } catch (e) { result = { code: e.code, message: e.message, ms: Date.now() - started }; }",
      "process.kill(pid, 'SIGCONT');",
      'console.log(JSON.stringify(result));',
      'process.exit(0);',
    ].join('\n');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.HALFKEY_IN_KEYRING_SESSION;
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        join(root, 'build/with-keyring.sh'),
        [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: root, env, timeout: 30_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string; ms?: number };
    expect(result.code).toBe('KEYCHAIN_UNAVAILABLE');
    expect(result.message).toMatch(/did not answer reading device:frozen within 1500 ms/);
    expect(result.ms).toBeGreaterThanOrEqual(1400);
    expect(result.ms).toBeLessThan(10_000);
  });

  it('with no D-Bus session variable at all, refuses before touching keytar', async () => {
    const error = await openKeytarKeychain({ env: {}, platform: 'linux' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HalfkeyError);
    expect((error as HalfkeyError).code).toBe('KEYCHAIN_UNAVAILABLE');
    expect((error as HalfkeyError).message).toMatch(/DBUS_SESSION_BUS_ADDRESS/);
  });
});
