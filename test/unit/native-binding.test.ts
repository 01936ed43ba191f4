import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { addonAbi } from '../../build/native-electron.mjs';
import { openDatabase } from '../../electron/base/database';
import {
  checkNativeBinding,
  NativeBindingRefused,
  runningTarget,
  sqliteBinding,
  type NativeBuildTag,
  type RunningTarget,
} from '../../electron/base/native-binding';
import { electronSqliteBinding } from '../../electron/main/sqlite-binding';
import { acquireVaultLock } from '../../electron/vault/vault-lock';
import { NODE_SQLITE_ADDON, provideSqliteBuildForThisRuntime } from '../support/native-build-stand-in';

const require = createRequire(import.meta.url);
const node = runningTarget();
/** The Electron main process as native-binding.ts would see it (no Electron runs here). */
const electron: RunningTarget = { runtime: 'electron', version: '45.4.1', abi: '150', platform: node.platform, arch: node.arch };
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'halfkey-native-binding-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A build folder tagged `tag`, whose better_sqlite3.node is NOT an addon: were it ever loaded,
 * dlopen would fail with its own error ("invalid ELF header"), not with the refusal.
 */
function taggedFolder(name: string, tag: Partial<NativeBuildTag>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'better_sqlite3.node'), 'not an addon: loading this would fail in dlopen');
  writeFileSync(
    join(dir, 'abi.json'),
    JSON.stringify({ module: 'better-sqlite3', moduleVersion: '12.9.0', platform: node.platform, arch: node.arch, ...tag }),
  );
  return join(dir, 'better_sqlite3.node');
}

describe('code running in Node refuses an Electron build, before loading it', () => {
  it('openDatabase and acquireVaultLock pointed at an Electron-ABI folder refuse it by its tag; dlopen is never called', () => {
    const addon = taggedFolder('electron-150', { runtime: 'electron', abi: '150', electronVersion: '45.4.1' });
    const dlopen = vi.spyOn(process, 'dlopen');
    const message = `Refusing the better-sqlite3 build in ${dirname(addon)}: it was built for Electron 45.4.1 (ABI 150, ${node.platform}-${node.arch}) and this process is Node ${process.versions.node} (ABI ${node.abi}, ${node.platform}-${node.arch}); code running in Node uses the build npm installed in node_modules: pass no nativeBinding.`;
    expect(() => openDatabase(join(work, 'a.db'), { nativeBinding: addon })).toThrow(message);
    expect(() => openDatabase(join(work, 'a.db'), { nativeBinding: addon })).toThrow(NativeBindingRefused);
    const vaultDir = join(work, 'vault');
    mkdirSync(vaultDir);
    expect(() => acquireVaultLock(vaultDir, { nativeBinding: addon })).toThrow(message);
    expect(dlopen.mock.calls.filter(([, filename]) => filename === addon)).toEqual([]);
  });

  it('refuses an untagged addon too (no abi.json says what it was built for)', () => {
    const dir = join(work, 'untagged');
    mkdirSync(dir);
    writeFileSync(join(dir, 'better_sqlite3.node'), 'not an addon');
    expect(() => openDatabase(join(work, 'b.db'), { nativeBinding: join(dir, 'better_sqlite3.node') })).toThrow(
      /it has no readable abi\.json beside it/,
    );
  });

  it("without a nativeBinding, Node code opens databases with node_modules' build, as before", () => {
    expect(sqliteBinding(undefined, node)).toEqual({});
    const db = openDatabase(join(work, 'plain.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('loads a build tagged for this very runtime, through nativeBinding', () => {
    const addon = provideSqliteBuildForThisRuntime(join(work, 'app'));
    const dlopen = vi.spyOn(process, 'dlopen');
    const db = openDatabase(join(work, 'bound.db'), { nativeBinding: addon });
    expect(db.prepare('SELECT 6 * 7 AS answer').get()).toEqual({ answer: 42 });
    db.close();
    expect(dlopen.mock.calls.map(([, filename]) => filename)).toContain(addon);
  });
});

describe('the Electron side refuses a Node build', () => {
  it('refuses a folder tagged for Node, naming both ABIs and how to get the Electron build', () => {
    const addon = taggedFolder('node-115', { runtime: 'node', abi: '115' });
    expect(() => checkNativeBinding(addon, { self: electron })).toThrow(
      `Refusing the better-sqlite3 build in ${dirname(addon)}: it was built for Node (ABI 115, ${node.platform}-${node.arch}) and this process is Electron 45.4.1 (ABI 150, ${node.platform}-${node.arch}); run \`npm start\`, which builds better-sqlite3 for the installed Electron (or \`node build/native-electron.mjs\` to build only that).`,
    );
  });

  it("refuses node_modules' own build (untagged) and a build for an older Electron", () => {
    expect(() => checkNativeBinding(NODE_SQLITE_ADDON, { self: electron })).toThrow(/has no readable abi\.json/);
    const older = taggedFolder('electron-140', { runtime: 'electron', abi: '140', electronVersion: '39.0.0' });
    expect(() => checkNativeBinding(older, { self: electron })).toThrow(
      /built for Electron 39\.0\.0 \(ABI 140, .*\) and this process is Electron 45\.4\.1 \(ABI 150/,
    );
  });

  it('accepts the build tagged for it', () => {
    const addon = taggedFolder('electron-150-ok', { runtime: 'electron', abi: '150', electronVersion: '45.4.1' });
    expect(sqliteBinding(addon, electron)).toEqual({ nativeBinding: addon });
  });

  it('in Electron, a database opened without the Electron build is refused, naming the missing nativeBinding', () => {
    expect(() => sqliteBinding(undefined, electron)).toThrow(NativeBindingRefused);
    expect(() => sqliteBinding(undefined, electron)).toThrow(
      /opened in Electron 45\.4\.1 \(ABI 150.*without its Electron build; the build in node_modules is Node's/,
    );
  });
});

describe("electron/main's binding path", () => {
  it('looks under build/native/<runtime>-<abi>-<platform>-<arch>/ of the app folder, and under app.asar.unpacked when packaged', () => {
    const appPath = join(work, 'main-app');
    const addon = provideSqliteBuildForThisRuntime(appPath);
    expect(addon).toBe(
      join(appPath, 'build', 'native', `${node.runtime}-${node.abi}-${node.platform}-${node.arch}`, 'better_sqlite3.node'),
    );
    expect(electronSqliteBinding(appPath, false)).toBe(addon);
    const asar = join(work, 'resources', 'app.asar');
    const unpacked = provideSqliteBuildForThisRuntime(`${asar}.unpacked`);
    expect(electronSqliteBinding(asar, true)).toBe(unpacked);
  });

  it('says what to do when the build is missing: npm start in development, reinstall when packaged', () => {
    const empty = join(work, 'no-build');
    expect(() => electronSqliteBinding(empty, false)).toThrow(
      /There is no better-sqlite3 build for .* at .*no-build.*: run `npm start`, which builds better-sqlite3/,
    );
    expect(() => electronSqliteBinding(join(empty, 'app.asar'), true)).toThrow(
      /app\.asar\.unpacked.*this installation of Halfkey is incomplete or damaged; reinstall it\./,
    );
  });
});

describe('which addons are tied to one ABI (read from the binaries, not loaded)', () => {
  it("better-sqlite3's Node build is a V8-API addon for this Node's ABI", () => {
    expect(addonAbi(NODE_SQLITE_ADDON)).toBe(process.versions.modules);
  });

  it('keytar is N-API: no per-ABI symbol, only napi_register_module_v1, so one build loads in Node and in Electron', () => {
    const keytar = join(dirname(require.resolve('keytar/package.json')), 'build', 'Release', 'keytar.node');
    expect(addonAbi(keytar)).toBeNull();
    expect(readFileSync(keytar).toString('latin1')).toContain('napi_register_module_v1');
  });
});
