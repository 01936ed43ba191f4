import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleElectron } from '../../build/bundle-electron.mjs';
import { CHANNEL_NAMES } from '../../shared/api/contract';
import { CONTENT_SECURITY_POLICY } from '../../electron/main/security';
import { NODE_SQLITE_ADDON, provideSqliteBuildForThisRuntime } from '../support/native-build-stand-in';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const PASSPHRASE = 'bundled main probe passphrase 31';
let work: string;

interface ProbeReport {
  readonly channels: string[];
  readonly loadedUrls: string[];
  readonly statusBefore: { ok: boolean; value?: { mode: string; version: string; vault: { state: string } } };
  readonly created: { ok: boolean; error?: { code: string; message: string } };
  readonly statusAfter: {
    ok: boolean;
    value?: { vault: { state: string; keychainBackend: string | null }; journal: { seq: number | null } };
  };
  readonly page: { status: number; csp: string | null; body: string };
}

let report: ProbeReport;
let stdout: string;
let providedBuild: string;
let nativeLoads: string[];
let reopened: ProbeReport;
let reopenLoads: string[];

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
    throw new Error(
      'This test creates a vault through the bundled main process and needs a Secret Service: run it through build/with-keyring.sh (npm test does).',
    );
  }
  work = mkdtempSync(join(tmpdir(), 'halfkey-bundle-run-'));
  const out = join(work, 'app', 'dist', 'electron');
  await bundleElectron({ outdir: out });
  mkdirSync(join(work, 'app', 'dist', 'renderer'), { recursive: true });
  writeFileSync(join(work, 'app', 'dist', 'renderer', 'index.html'), '<!doctype html><title>probe page</title>');
  writeFileSync(join(work, 'passphrase'), PASSPHRASE, { mode: 0o600 });
  providedBuild = provideSqliteBuildForThisRuntime(join(work, 'app'));
  const probe = async (name: string): Promise<{ stdout: string; report: ProbeReport; loads: string[] }> => {
    const loadLog = join(work, `${name}-native-loads`);
    const run = await promisify(execFile)(
      process.execPath,
      [
        // Records every native addon the process loads, by path.
        '--import',
        join(projectRoot, 'test', 'support', 'native-load-recorder.mjs'),
        join(projectRoot, 'test', 'support', 'bundled-main-probe.mjs'),
        join(out, 'main.cjs'),
        join(work, 'app'),
        join(work, 'user-data'),
        join(work, 'passphrase'),
      ],
      // The bundle sits outside the project, so its external native modules come from NODE_PATH.
      {
        env: { ...process.env, NODE_PATH: join(projectRoot, 'node_modules'), HALFKEY_NATIVE_LOAD_LOG: loadLog },
        timeout: 60_000,
        maxBuffer: 4 * 1024 * 1024,
      },
    );
    const loads = existsSync(loadLog)
      ? readFileSync(loadLog, 'utf8')
          .trim()
          .split('\n')
          .map((path) => realpathSync(path))
      : [];
    return { stdout: run.stdout, report: JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as ProbeReport, loads };
  };
  ({ stdout, report, loads: nativeLoads } = await probe('first'));
  // A second start finds the vault the first one created and opens it (Vault.open, not create).
  ({ report: reopened, loads: reopenLoads } = await probe('second'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the bundled main process, run in Node with a stand-in for electron', () => {
  it('starts, mounts every channel and loads the app page', () => {
    expect(report.channels.sort()).toEqual([...CHANNEL_NAMES].sort());
    expect(report.loadedUrls).toEqual(['app://halfkey/index.html']);
    expect(report.statusBefore).toMatchObject({ ok: true, value: { mode: 'electron', version: '0.0.0-probe', vault: { state: 'none' } } });
  });

  it('creates a vault: native modules, libsodium and the copied migrations all work from the bundle', () => {
    expect(report.created, JSON.stringify(report.created)).toEqual({ ok: true });
    expect(report.statusAfter.ok).toBe(true);
    expect(report.statusAfter.value?.vault.state).not.toBe('none');
    expect(report.statusAfter.value?.vault.keychainBackend).not.toBeNull();
    expect(report.statusAfter.value?.journal.seq).not.toBeNull();
    const vaultDir = join(work, 'user-data', 'vault');
    expect(existsSync(vaultDir) && readdirSync(vaultDir).some((f) => f.endsWith('.db'))).toBe(true);
  });

  it("opens every database with the build of better-sqlite3 main found under the app folder, never node_modules' Node build", () => {
    // The vault was created, so the lock file and vault.db were both opened; each `new Database`
    // without nativeBinding would have loaded node_modules' build and shown here.
    const sqlite = nativeLoads.filter((path) => path.endsWith('better_sqlite3.node'));
    expect(sqlite).toEqual([realpathSync(providedBuild)]);
    expect(nativeLoads).not.toContain(realpathSync(NODE_SQLITE_ADDON));
  });

  it('reopens that vault on the next start with the same build (the open path, not only create)', () => {
    expect(reopened.statusBefore.value?.vault.state).toBe('locked');
    expect(reopenLoads.filter((path) => path.endsWith('better_sqlite3.node'))).toEqual([realpathSync(providedBuild)]);
    expect(reopenLoads).not.toContain(realpathSync(NODE_SQLITE_ADDON));
  });

  it('serves the renderer over app:// with the CSP header', () => {
    expect(report.page).toEqual({ status: 200, csp: CONTENT_SECURITY_POLICY, body: '<!doctype html><title>probe page</title>' });
  });

  it('prints nothing secret', () => {
    expect(stdout).not.toContain(PASSPHRASE);
  });
});
