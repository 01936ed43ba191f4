import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addonAbi,
  beforePack,
  buildWithElectronRebuild,
  ElectronSqliteBuildFailed,
  electronRebuildEnv,
  ensureElectronSqlite,
  electronTarget,
  type ElectronSqliteBuildStep,
  type ElectronTarget,
} from '../../build/native-electron.mjs';
import { startHalfkey } from '../../build/start.mjs';
import { NODE_SQLITE_ADDON } from '../support/native-build-stand-in';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const electronVersion = (JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')) as { version: string }).version;
const sqliteVersion = (JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
const ABI = (require('node-abi') as { getAbi: (version: string, runtime: string) => string }).getAbi(electronVersion, 'electron');
const FOLDER = `electron-${ABI}-${process.platform}-${process.arch}`;
const WHAT = `Electron ${electronVersion} (ABI ${ABI}, ${process.platform}-${process.arch})`;
const STAND_IN_ELECTRON = '/stand-in/for/the/electron/binary';
const projects: string[] = [];

afterAll(() => {
  for (const dir of projects) rmSync(dir, { recursive: true, force: true });
});

/** A project folder of its own (the real node_modules linked in), so builds land in its build/native/. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-native-'));
  projects.push(dir);
  symlinkSync(realpathSync(join(projectRoot, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

/**
 * Stand-in for the build step (@electron/rebuild needs a download unavailable here): leaves a file
 * carrying the symbol a V8-API addon for `target.abi` exports, and records what it was asked for.
 */
function standInStep(calls: ElectronTarget[], fail?: string): ElectronSqliteBuildStep {
  return async ({ target, workDir }) => {
    calls.push(target);
    if (fail !== undefined) throw new Error(fail);
    mkdirSync(workDir, { recursive: true });
    const out = join(workDir, 'better_sqlite3.node');
    writeFileSync(out, `stand-in addon\0node_register_module_v${target.abi}\0`);
    return out;
  };
}

/** `npm start` after its install step, with the binary, the bundler and the launch recorded instead of run. */
async function start(root: string, binary: string | null, buildStep: ElectronSqliteBuildStep) {
  const out: string[] = [];
  const err: string[] = [];
  const bundled: string[][] = [];
  const launched: [string, string[]][] = [];
  const code = await startHalfkey({
    projectRoot: root,
    args: [],
    binary,
    buildParts: async (parts) => {
      bundled.push([...parts]);
      return parts.map((part) => `dist/${part}`);
    },
    buildStep,
    launch: (command, args) => launched.push([command, [...args]]),
    out: (text) => out.push(text),
    err: (text) => err.push(text),
  });
  return { code, out: out.join(''), err: err.join(''), bundled, launched };
}

const tagOf = (root: string): Record<string, string> =>
  JSON.parse(readFileSync(join(root, 'build', 'native', FOLDER, 'abi.json'), 'utf8')) as Record<string, string>;

describe('the target', () => {
  it("is node-abi's ABI for the installed electron (which the electron package states too), and names the folder", () => {
    const target = electronTarget();
    expect(target).toEqual({
      runtime: 'electron',
      abi: ABI,
      platform: process.platform,
      arch: process.arch,
      electronVersion,
      module: 'better-sqlite3',
      moduleVersion: sqliteVersion,
    });
    expect(readFileSync(join(projectRoot, 'node_modules', 'electron', 'abi_version'), 'utf8').trim()).toBe(ABI);
    expect(ABI).not.toBe(process.versions.modules);
  });
});

describe('npm start: its decisions, through a stand-in for the build step', () => {
  it('without an Electron binary: the preview exactly as before, and no native build', async () => {
    const root = project();
    const calls: ElectronTarget[] = [];
    const run = await start(root, null, standInStep(calls));
    expect(run.out).toBe(
      'halfkey start: no Electron binary is installed here: building the renderer and the preview bridge, then starting the preview\n',
    );
    expect(run.bundled).toEqual([['renderer', 'preview']]);
    expect(run.launched).toEqual([[process.execPath, ['--import', 'tsx', join(root, 'electron', 'preview', 'main.ts')]]]);
    expect(calls).toEqual([]);
    expect(existsSync(join(root, 'build', 'native'))).toBe(false);
  });

  it("with a binary and no Electron build: says it builds (and how long it may take), builds for node-abi's ABI, then starts Electron on the project folder", async () => {
    const root = project();
    const calls: ElectronTarget[] = [];
    const run = await start(root, STAND_IN_ELECTRON, standInStep(calls));
    expect(run.code).toBeUndefined();
    expect(calls.map((target) => target.abi)).toEqual([ABI]);
    const lines = run.out.trim().split('\n');
    expect(lines[0]).toBe(
      `halfkey start: better-sqlite3 has no build for ${WHAT} yet: building it into build/native/${FOLDER}/, once per Electron version`,
    );
    expect(lines[1]).toMatch(
      /^halfkey start: this downloads better-sqlite3's prebuilt binary for Electron, or else Electron's headers and compiles SQLite \(a few minutes\); output goes to build\/native\/\.electron-/,
    );
    expect(lines[2]).toMatch(new RegExp(`^halfkey start: built better-sqlite3 for ${WHAT.replace(/[().]/g, '\\$&')} in \\d+ s$`));
    expect(tagOf(root)).toEqual({
      runtime: 'electron',
      abi: ABI,
      platform: process.platform,
      arch: process.arch,
      electronVersion,
      module: 'better-sqlite3',
      moduleVersion: sqliteVersion,
    });
    expect(addonAbi(join(root, 'build', 'native', FOLDER, 'better_sqlite3.node'))).toBe(ABI);
    // Nothing but the build is left behind: no work or staging folder.
    expect(readdirSync(join(root, 'build', 'native'))).toEqual([FOLDER]);
    expect(run.bundled).toEqual([['renderer', 'electron']]);
    expect(run.launched).toEqual([[STAND_IN_ELECTRON, [root]]]);

    const again = await start(root, STAND_IN_ELECTRON, standInStep(calls));
    expect(calls).toHaveLength(1);
    expect(again.out).toContain(`halfkey start: using better-sqlite3 built for ${WHAT} in build/native/${FOLDER}/\n`);
    expect(again.launched).toEqual([[STAND_IN_ELECTRON, [root]]]);
  });

  it('rebuilds a build made for another Electron version, saying so, and removes builds for other ABIs', async () => {
    const root = project();
    await start(root, STAND_IN_ELECTRON, standInStep([]));
    const tagFile = join(root, 'build', 'native', FOLDER, 'abi.json');
    writeFileSync(tagFile, JSON.stringify({ ...tagOf(root), electronVersion: '45.0.0' }));
    const older = join(root, 'build', 'native', `electron-140-${process.platform}-${process.arch}`);
    mkdirSync(older);
    const calls: ElectronTarget[] = [];
    const run = await start(root, STAND_IN_ELECTRON, standInStep(calls));
    expect(run.out).toContain(
      `halfkey start: the better-sqlite3 build in build/native/${FOLDER}/ was made for Electron 45.0.0 (ABI ${ABI}) from better-sqlite3 ${sqliteVersion}: rebuilding it for ${WHAT}\n`,
    );
    expect(calls).toHaveLength(1);
    expect(tagOf(root).electronVersion).toBe(electronVersion);
    expect(existsSync(older)).toBe(false);
    expect(run.launched).toHaveLength(1);
  });

  it('rebuilds a folder whose tag is unreadable', async () => {
    const root = project();
    mkdirSync(join(root, 'build', 'native', FOLDER), { recursive: true });
    const calls: ElectronTarget[] = [];
    const run = await start(root, STAND_IN_ELECTRON, standInStep(calls));
    expect(run.out).toContain(`the better-sqlite3 build in build/native/${FOLDER}/ has no readable abi.json: rebuilding it`);
    expect(calls).toHaveLength(1);
  });

  it('a failing build tool stops npm start with one line naming the retry; nothing is bundled or launched', async () => {
    const root = project();
    const run = await start(root, STAND_IN_ELECTRON, standInStep([], 'getaddrinfo ENOTFOUND github.com'));
    expect(run.code).toBe(1);
    expect(run.err).toBe(
      `halfkey start: could not build better-sqlite3 for ${WHAT}: getaddrinfo ENOTFOUND github.com. Once that is fixed, run \`npm start\` again (or \`node build/native-electron.mjs\` for this build alone); the build's output is in build/native/.${FOLDER}.log\n`,
    );
    expect(run.launched).toEqual([]);
    expect(run.bundled).toEqual([]);
    expect(existsSync(join(root, 'build', 'native', FOLDER))).toBe(false);
    expect(existsSync(join(root, 'build', 'native', `.work-${FOLDER}`))).toBe(false);
  });

  it('refuses what a build tool produced for the wrong ABI (here: a real Node build), before installing it', async () => {
    const root = project();
    const nodeBuild: ElectronSqliteBuildStep = async ({ workDir }) => {
      mkdirSync(workDir, { recursive: true });
      copyFileSync(NODE_SQLITE_ADDON, join(workDir, 'better_sqlite3.node'));
      return join(workDir, 'better_sqlite3.node');
    };
    const run = await start(root, STAND_IN_ELECTRON, nodeBuild);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`the build tool produced a better-sqlite3 for ABI ${process.versions.modules}, not Electron's ${ABI}.`);
    expect(run.launched).toEqual([]);
    expect(existsSync(join(root, 'build', 'native', FOLDER))).toBe(false);
  });
});

describe('packaging: the beforePack hook', () => {
  it("builds for the CPU being packaged (electron-builder arch names mapped to Node's)", async () => {
    const root = project();
    const calls: ElectronTarget[] = [];
    await beforePack({ electronPlatformName: process.platform, arch: 3 }, { projectRoot: root, build: standInStep(calls) });
    await beforePack({ electronPlatformName: process.platform, arch: 2 }, { projectRoot: root, build: standInStep(calls) });
    expect(calls.map((target) => target.arch)).toEqual(['arm64', 'arm']);
    expect(
      readdirSync(join(root, 'build', 'native'))
        .filter((name) => !name.startsWith('.'))
        .sort(),
    ).toEqual([`electron-${ABI}-${process.platform}-arm`, `electron-${ABI}-${process.platform}-arm64`]);
  });

  it('refuses to package for another platform', async () => {
    const other = process.platform === 'win32' ? 'linux' : 'win32';
    await expect(beforePack({ electronPlatformName: other, arch: 1 }, { projectRoot: project(), build: standInStep([]) })).rejects.toThrow(
      `Halfkey for ${other} is packaged on ${other}: better-sqlite3 is built for Electron on the machine that packages, and native modules are not cross-compiled`,
    );
  });
});

describe('the real build step (@electron/rebuild on a copy of better-sqlite3)', () => {
  it("drops npm's settings that would redirect node-gyp (a nodedir builds for Node's ABI), keeping proxy and certificates", () => {
    const env = electronRebuildEnv({
      npm_config_nodedir: '/usr',
      NPM_CONFIG_TARGET: '20.0.0',
      npm_config_runtime: 'node',
      npm_config_disturl: 'x',
      npm_config_proxy: 'http://proxy:3128',
      npm_config_cafile: '/ca.pem',
      HOME: '/home/dev',
    });
    expect(env).toEqual({
      npm_config_proxy: 'http://proxy:3128',
      npm_config_cafile: '/ca.pem',
      HOME: '/home/dev',
      DEBUG: 'electron-rebuild',
    });
  });

  const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

  it("ends in a one-line message when its download fails (as here), or in a tagged Electron build; node_modules' Node build is untouched either way", async () => {
    const root = project();
    const before = sha256(NODE_SQLITE_ADDON);
    const nodeModuleFiles = readdirSync(join(projectRoot, 'node_modules', 'better-sqlite3')).sort();
    const said: string[] = [];
    // A HOME of its own: no cached Electron headers or prebuilt download from an earlier run.
    const home = process.env.HOME;
    process.env.HOME = join(root, 'home');
    mkdirSync(process.env.HOME);
    let outcome: { built: boolean } | ElectronSqliteBuildFailed;
    try {
      outcome = await ensureElectronSqlite({
        projectRoot: root,
        target: electronTarget({ projectRoot: root }),
        build: buildWithElectronRebuild,
        say: (text) => said.push(text),
      });
    } catch (error) {
      if (!(error instanceof ElectronSqliteBuildFailed)) throw error;
      outcome = error;
    } finally {
      process.env.HOME = home;
    }
    if (outcome instanceof ElectronSqliteBuildFailed) {
      expect(outcome.message).not.toContain('\n');
      expect(outcome.message).not.toContain('NODE_MODULE_VERSION');
      expect(outcome.message).toMatch(
        new RegExp(`^could not build better-sqlite3 for Electron ${electronVersion.replace(/\./g, '\\.')} \\(ABI ${ABI}, .*\\): `),
      );
      expect(outcome.message).toContain('run `npm start` again (or `node build/native-electron.mjs` for this build alone)');
      // Here: neither GitHub (prebuilt binary) nor electronjs.org (headers) can be reached.
      expect(outcome.message).toMatch(/a download failed: the prebuilt binary \(.+\) and Electron's headers \(https:\/\/.+headers.+\)/);
      expect(readFileSync(join(root, 'build', 'native', `.${FOLDER}.log`), 'utf8')).toContain('--runtime=electron');
      expect(existsSync(join(root, 'build', 'native', FOLDER))).toBe(false);
    } else {
      expect(addonAbi(join(root, 'build', 'native', FOLDER, 'better_sqlite3.node'))).toBe(ABI);
    }
    expect(said[0]).toContain(`better-sqlite3 has no build for ${WHAT} yet`);
    expect(existsSync(join(root, 'build', 'native', `.work-${FOLDER}`))).toBe(false);
    expect(sha256(NODE_SQLITE_ADDON)).toBe(before);
    expect(readdirSync(join(projectRoot, 'node_modules', 'better-sqlite3')).sort()).toEqual(nodeModuleFiles);
    // And Node still opens databases with it.
    const db = new Database(':memory:');
    expect(db.prepare('SELECT sqlite_version() AS v').get()).toHaveProperty('v');
    db.close();
    // Where the downloads work and no prebuilt binary fits, this compiles SQLite: minutes, not seconds.
  }, 600_000);
});
