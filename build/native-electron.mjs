#!/usr/bin/env node
// The Electron build of better-sqlite3, made beside the Node build and never over it.
//
// better-sqlite3 is a V8-API addon, so the binary npm put in node_modules (Node's ABI) cannot load
// in Electron (its own ABI), and rebuilding node_modules in place for Electron would break the
// CLI, the server and the tests, which run on Node. So the Electron build lives in its own folder,
// build/native/electron-<abi>-<platform>-<arch>/ (ignored by git), with a tag (abi.json) that
// electron/base/native-binding.ts checks before the Electron main process loads it as
// better-sqlite3's nativeBinding. `npm start` calls ensureElectronSqlite() when a real Electron
// is installed; electron-builder calls beforePack() before packaging.
//   node build/native-electron.mjs [--force]     build it now (or rebuild with --force)
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const REBUILD_STEP = fileURLToPath(new URL('./native-electron-rebuild.mjs', import.meta.url));

/** A build that could not be made; its message is one line for a person, naming what to run next. */
export class ElectronSqliteBuildFailed extends Error {
  name = 'ElectronSqliteBuildFailed';
}

let bindingModule;
/** electron/base/native-binding.ts: the one definition of the folder name and the tag. */
async function nativeBinding() {
  if (bindingModule === undefined) {
    const { tsImport } = await import('tsx/esm/api');
    bindingModule = await tsImport('../electron/base/native-binding.ts', import.meta.url);
  }
  return bindingModule;
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/**
 * What `npm start` and packaging build for: the installed electron package's version, its ABI as
 * node-abi gives it (the table @electron/rebuild itself uses), this platform and CPU (or `arch`),
 * and the installed better-sqlite3's version. The result is also the tag written to abi.json.
 */
export function electronTarget({ projectRoot = PROJECT_ROOT, platform = process.platform, arch = process.arch } = {}) {
  const require = createRequire(join(projectRoot, 'package.json'));
  const electronVersion = readJson(require.resolve('electron/package.json')).version;
  const moduleVersion = readJson(require.resolve('better-sqlite3/package.json')).version;
  let abi;
  try {
    abi = require('node-abi').getAbi(electronVersion, 'electron');
  } catch (error) {
    throw new ElectronSqliteBuildFailed(
      `node-abi does not know the ABI of Electron ${electronVersion} (${firstLine(error)}); update it (npm install --save-dev node-abi@latest), then run \`npm start\` again`,
    );
  }
  return Object.freeze({ runtime: 'electron', abi: String(abi), platform, arch, electronVersion, module: 'better-sqlite3', moduleVersion });
}

/** Where the build for `target` lives, and the paths around it. */
export async function electronBuildPaths(target, projectRoot = PROJECT_ROOT) {
  const { NATIVE_BUILDS_DIR, SQLITE_ADDON_FILE, nativeBuildFolder } = await nativeBinding();
  const builds = join(projectRoot, ...NATIVE_BUILDS_DIR);
  const folder = nativeBuildFolder(target);
  const dir = join(builds, folder);
  return {
    builds,
    folder,
    dir,
    addon: join(dir, SQLITE_ADDON_FILE),
    // Dot-named, so the packaging glob (build/native/electron-*) never ships them.
    workDir: join(builds, `.work-${folder}`),
    stagingDir: join(builds, `.staging-${folder}`),
    logFile: join(builds, `.${folder}.log`),
    shown: (path) => relative(projectRoot, path).split(sep).join('/'),
  };
}

const TAG_KEYS = ['runtime', 'abi', 'platform', 'arch', 'electronVersion', 'module', 'moduleVersion'];

/**
 * Whether the build for `target` is there and current: `present`, `missing`, or `stale` with
 * the reason (made for another Electron or better-sqlite3 version, tag unreadable, addon gone).
 */
export async function inspectElectronBuild(target, projectRoot = PROJECT_ROOT) {
  const { readNativeTag } = await nativeBinding();
  const { dir, addon } = await electronBuildPaths(target, projectRoot);
  if (!existsSync(dir)) return { state: 'missing' };
  const tag = readNativeTag(addon);
  if (tag === null) return { state: 'stale', reason: 'has no readable abi.json' };
  if (!existsSync(addon)) return { state: 'stale', reason: 'has lost its better_sqlite3.node' };
  if (TAG_KEYS.some((key) => tag[key] !== target[key])) {
    return {
      state: 'stale',
      reason: `was made for Electron ${tag.electronVersion ?? '?'} (ABI ${tag.abi}) from better-sqlite3 ${tag.moduleVersion}`,
    };
  }
  return { state: 'present' };
}

/**
 * The ABI a V8-API addon was compiled for, read from the binary without loading it: Node's
 * NODE_MODULE macro exports `node_register_module_v<ABI>` (ELF, Mach-O and PE alike keep the
 * name as text). Null when the file has no such symbol (an N-API addon, or not an addon).
 */
export function addonAbi(path) {
  const match = /node_register_module_v(\d+)/.exec(readFileSync(path).toString('latin1'));
  return match ? match[1] : null;
}

function firstLine(error) {
  const text = error instanceof Error ? error.message : String(error);
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? text
  );
}

/**
 * What went wrong, in one phrase, from the build log of @electron/rebuild: which download failed
 * (the prebuilt binary from GitHub, Electron's headers from electronjs.org), or the compiler's
 * last error when both downloads worked but compiling did not.
 */
export function buildFailureCause(log) {
  const lines = log.split('\n').map((line) => line.trim());
  const prebuild = lines.map((line) => /^prebuild-install (?:warn|WARN|ERR!) install (.+)$/.exec(line)?.[1]).findLast(Boolean);
  const headersUrl = lines.map((line) => /^gyp http GET (\S+)/.exec(line)?.[1]).findLast(Boolean);
  // node-gyp rolls the headers install back, and says so, whatever the network error was.
  const headersFailed = headersUrl !== undefined && lines.some((line) => line.startsWith('gyp WARN install got an error'));
  if (headersFailed) {
    return `a download failed: the prebuilt binary (${prebuild ?? 'not available'}) and Electron's headers (${headersUrl})`;
  }
  const compile = lines
    .filter((line) => /^gyp ERR! (?!stack|System|command|cwd|node -v|node-gyp -v|not ok)|^make: \*\*\*|error:/.test(line))
    .at(-1);
  if (compile !== undefined) {
    return `compiling it failed (${compile}); compiling needs Python 3 and a C++ toolchain (build-essential, the Xcode command line tools, or the Visual Studio Build Tools)`;
  }
  return lines.filter(Boolean).at(-1) ?? 'the build tool stopped without saying why';
}

/**
 * npm passes its configuration to scripts as npm_config_* variables, and node-gyp and
 * prebuild-install take those over their defaults. Some redirect the build: a `nodedir` (set on
 * machines that compile against the system's Node headers) makes node-gyp build for Node's ABI
 * instead of fetching Electron's headers. Those are dropped; proxy and certificate settings stay.
 */
export function electronRebuildEnv(env) {
  const redirects = /^npm_config_(nodedir|target|runtime|disturl|dist_url|devdir)$/i;
  // @electron/rebuild's debug output says why the prebuilt download failed before it compiles.
  return { ...Object.fromEntries(Object.entries(env).filter(([name]) => !redirects.test(name))), DEBUG: 'electron-rebuild' };
}

/**
 * The real build step: @electron/rebuild (build/native-electron-rebuild.mjs, in a child whose
 * output goes to `logFile`) on a copy of better-sqlite3's sources in `workDir`. The copy sits
 * inside the project so prebuild-install is found in node_modules above it. Returns the .node
 * it produced; throws with buildFailureCause() when it failed.
 */
export async function buildWithElectronRebuild({ projectRoot, target, workDir, logFile }) {
  const require = createRequire(join(projectRoot, 'package.json'));
  const source = dirname(require.resolve('better-sqlite3/package.json'));
  const copy = join(workDir, 'better-sqlite3');
  rmSync(workDir, { recursive: true, force: true });
  // The sources only: build/ (the Node build) stays in node_modules, untouched.
  cpSync(source, copy, {
    recursive: true,
    filter: (path) => !['build', 'bin', 'prebuilds', 'node_modules'].includes(relative(source, path).split(sep)[0]),
  });
  mkdirSync(dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'w');
  let exit;
  try {
    exit = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [REBUILD_STEP, copy, target.electronVersion, target.arch], {
        cwd: projectRoot,
        stdio: ['ignore', log, log],
        env: electronRebuildEnv(process.env),
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? signal));
    });
  } finally {
    closeSync(log);
  }
  if (exit !== 0) throw new Error(buildFailureCause(readFileSync(logFile, 'utf8')));
  const { SQLITE_ADDON_FILE } = await nativeBinding();
  return join(copy, 'build', 'Release', SQLITE_ADDON_FILE);
}

/**
 * Makes sure build/native/<folder>/ holds better-sqlite3 for `target`: reuses a current build,
 * builds a missing one, rebuilds a stale one, saying which through `say`. `build` is the step that
 * produces a .node (the real one needs the network); its result is checked for the target's ABI,
 * installed with its tag, and builds for other Electron ABIs are removed (packaging ships every
 * electron-* folder). Throws ElectronSqliteBuildFailed with a one-line message naming the retry.
 */
export async function ensureElectronSqlite({
  projectRoot = PROJECT_ROOT,
  target = electronTarget({ projectRoot }),
  build = buildWithElectronRebuild,
  say = () => {},
  force = false,
} = {}) {
  const { NATIVE_TAG_FILE, SQLITE_ADDON_FILE } = await nativeBinding();
  const paths = await electronBuildPaths(target, projectRoot);
  const { dir, addon, shown } = paths;
  const what = `Electron ${target.electronVersion} (ABI ${target.abi}, ${target.platform}-${target.arch})`;
  const found = force ? { state: 'stale', reason: 'is rebuilt on request (--force)' } : await inspectElectronBuild(target, projectRoot);
  if (found.state === 'present') {
    say(`using better-sqlite3 built for ${what} in ${shown(dir)}/`);
    return { dir, addon, built: false };
  }
  say(
    found.state === 'missing'
      ? `better-sqlite3 has no build for ${what} yet: building it into ${shown(dir)}/, once per Electron version`
      : `the better-sqlite3 build in ${shown(dir)}/ ${found.reason}: rebuilding it for ${what}`,
  );
  say(
    `this downloads better-sqlite3's prebuilt binary for Electron, or else Electron's headers and compiles SQLite (a few minutes); output goes to ${shown(paths.logFile)}`,
  );
  const started = Date.now();
  const fail = (cause) =>
    new ElectronSqliteBuildFailed(
      `could not build better-sqlite3 for ${what}: ${cause}. Once that is fixed, run \`npm start\` again (or \`node build/native-electron.mjs\` for this build alone); the build's output is in ${shown(paths.logFile)}`,
    );
  try {
    let produced;
    try {
      produced = await build({ projectRoot, target, workDir: paths.workDir, logFile: paths.logFile });
    } catch (error) {
      throw fail(firstLine(error));
    }
    if (!existsSync(produced)) throw fail(`the build tool reported success but left no ${shown(produced)}`);
    const producedAbi = addonAbi(produced);
    if (producedAbi !== target.abi)
      throw fail(`the build tool produced a better-sqlite3 for ABI ${producedAbi ?? '(none found)'}, not Electron's ${target.abi}`);
    // Staged, then renamed into place: an interrupted build never leaves a folder that looks complete.
    rmSync(paths.stagingDir, { recursive: true, force: true });
    mkdirSync(paths.stagingDir, { recursive: true });
    copyFileSync(produced, join(paths.stagingDir, SQLITE_ADDON_FILE));
    writeFileSync(
      join(paths.stagingDir, NATIVE_TAG_FILE),
      `${JSON.stringify(Object.fromEntries(TAG_KEYS.map((key) => [key, target[key]])), null, 2)}\n`,
    );
    rmSync(dir, { recursive: true, force: true });
    renameSync(paths.stagingDir, dir);
    for (const name of readdirSync(paths.builds)) {
      if (name.startsWith('electron-') && !name.startsWith(`electron-${target.abi}-`))
        rmSync(join(paths.builds, name), { recursive: true, force: true });
    }
  } finally {
    rmSync(paths.workDir, { recursive: true, force: true });
    rmSync(paths.stagingDir, { recursive: true, force: true });
  }
  say(`built better-sqlite3 for ${what} in ${Math.round((Date.now() - started) / 1000)} s`);
  return { dir, addon, built: true };
}

/**
 * electron-builder's beforePack hook (electron-builder.yml): the Electron build for the platform
 * and CPU being packaged, made if needed, before the files are collected. Native modules are not
 * cross-compiled, so a package is made on the platform it is for. (electron-builder passes only
 * `context`; the options are for tests.)
 */
export async function beforePack(context, { projectRoot = PROJECT_ROOT, build = buildWithElectronRebuild } = {}) {
  if (context.electronPlatformName !== process.platform) {
    throw new ElectronSqliteBuildFailed(
      `Halfkey for ${context.electronPlatformName} is packaged on ${context.electronPlatformName}: better-sqlite3 is built for Electron on the machine that packages, and native modules are not cross-compiled`,
    );
  }
  const { Arch } = createRequire(import.meta.url)('builder-util');
  // electron-builder names 32-bit ARM armv7l; Node (and so the running app's folder name) says arm.
  const arch = Arch[context.arch] === 'armv7l' ? 'arm' : Arch[context.arch];
  const target = electronTarget({ projectRoot, arch });
  await ensureElectronSqlite({ projectRoot, target, build, say: (text) => process.stdout.write(`  • halfkey: ${text}\n`) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const say = (text) => process.stdout.write(`halfkey native: ${text}\n`);
  try {
    await ensureElectronSqlite({ say, force: process.argv.includes('--force') });
  } catch (error) {
    if (!(error instanceof ElectronSqliteBuildFailed)) throw error;
    process.stderr.write(`halfkey native: ${error.message}\n`);
    process.exitCode = 1;
  }
}
