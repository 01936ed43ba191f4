import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../build/halfkey.mjs', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `halfkey` CLI (build/halfkey.mjs) in `cwd` with this process's environment. */
export function halfkeyIn(cwd: () => string): (args: string[]) => Promise<CliResult> {
  return (args) =>
    new Promise((resolve) => {
      execFile(process.execPath, [bin, ...args], { cwd: cwd(), env: process.env, timeout: 90_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
      });
    });
}

/** Fails (never skips) a CLI test that needs the Secret Service when it is not running. */
export function requireKeyring(): void {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
}
