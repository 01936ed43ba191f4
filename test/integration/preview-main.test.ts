import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LINE =
  /^Halfkey preview \(no Electron binary installed here\): open (http:\/\/127\.0\.0\.1:(\d+)\/)#token=([0-9a-f]{64}) in Chromium — the token works for one page load only \(vault: (.+)\)\.$/;
const children: ChildProcess[] = [];
const folders: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Runs the `npm start` preview entry and resolves with its first stdout line (or its exit). */
function startMain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; line: string; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'electron/preview/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) resolve({ child, line: out.slice(0, newline), stderr: () => err });
    });
    child.once('exit', (code) => (out.includes('\n') ? undefined : reject(new Error(`exited ${code}: ${err}`))));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-preview-main-'));
  folders.push(dir);
  return dir;
}

describe('the npm start preview entry (electron/preview/main.ts)', () => {
  it('prints one line with the one-time link, serves the API on it, and stops cleanly on SIGTERM', async () => {
    const vaultDir = join(tempDir(), 'vault');
    const { child, line } = await startMain(['--vault', vaultDir]);
    const match = LINE.exec(line);
    expect(match, line).not.toBeNull();
    const [, url, port, token, printedVault] = match as RegExpExecArray;
    expect(printedVault).toBe(vaultDir);
    expect(existsSync(vaultDir)).toBe(true);

    const csp = await new Promise<string | undefined>((resolve, reject) => {
      get(`${url}preview-bridge.js`, (res) => {
        res.resume();
        resolve(res.headers['content-security-policy'] as string | undefined);
      }).on('error', reject);
    });
    expect(csp).toContain("default-src 'none'");

    const socket = new WebSocket(`ws://127.0.0.1:${port}/api`, { origin: `http://127.0.0.1:${port}` });
    const replies: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => socket.send(JSON.stringify({ token })));
      socket.on('message', (data) => {
        replies.push(JSON.parse(data.toString()) as unknown);
        if (replies.length === 1) socket.send(JSON.stringify({ id: 1, channel: 'app:status', payload: {} }));
        else resolve();
      });
      socket.once('error', reject);
    });
    expect(replies[0]).toEqual({ authenticated: true });
    expect(replies[1]).toMatchObject({ id: 1, result: { ok: true, value: { mode: 'preview' } } });
    socket.close();

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('takes the vault folder from HALFKEY_VAULT_DIR when --vault is not given', async () => {
    const vaultDir = join(tempDir(), 'from-env');
    const { child, line } = await startMain([], { HALFKEY_VAULT_DIR: vaultDir });
    expect(LINE.exec(line)?.[4]).toBe(vaultDir);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('refuses unknown options and a bad port with a message naming them', async () => {
    await expect(startMain(['--vault', tempDir(), '--bogus'])).rejects.toThrow(/exited 1: .*bogus/s);
    await expect(startMain(['--vault', tempDir(), '--port', 'http'])).rejects.toThrow(/--port must be a port number.*"http"/s);
  });
});
