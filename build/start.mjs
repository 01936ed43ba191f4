#!/usr/bin/env node
// `npm start`: install if needed, build, then run Electron when its binary is installed, or
// else the preview adapter (the same services and UI, served to Chromium on 127.0.0.1).
// With Electron, better-sqlite3 is first built for Electron's ABI beside the Node build
// (build/native-electron.mjs): once, then reused until the Electron version changes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';
import { buildWithElectronRebuild, ElectronSqliteBuildFailed, electronTarget, ensureElectronSqlite } from './native-electron.mjs';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const PREFIX = 'halfkey start: ';

function installIfMissing(say) {
  if (existsSync(at('node_modules'))) return;
  // npm ci installs exactly the committed lock and never rewrites it. The Electron binary cannot be
  // fetched everywhere; the preview fallback covers that case.
  say('node_modules is missing: running npm ci (ELECTRON_SKIP_BINARY_DOWNLOAD=1, the Electron binary is not downloaded)');
  const run = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: PROJECT_ROOT,
    stdio: 'inherit',
    env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' },
  });
  if (run.status !== 0) throw new Error(`npm ci failed (exit ${run.status ?? run.signal})`);
}

/**
 * The Electron binary's path when it is really installed, else null. Read the way the electron
 * package does (path.txt under its dist/, or ELECTRON_OVERRIDE_DIST_PATH), without
 * require('electron'): that tries to download the binary when it is missing, which fails and
 * stalls where there is no network.
 */
export function electronBinary(projectRoot = PROJECT_ROOT) {
  let packageDir;
  try {
    packageDir = dirname(createRequire(join(projectRoot, 'package.json')).resolve('electron/package.json'));
  } catch {
    return null;
  }
  const pathFile = join(packageDir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const relative = readFileSync(pathFile, 'utf8').trim();
  const distDir = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(packageDir, 'dist');
  const binary = join(distDir, relative);
  return existsSync(binary) ? binary : null;
}

function runChild(command, args, cwd) {
  const child = spawn(command, args, { cwd, stdio: 'inherit' });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

/**
 * What `npm start` does once node_modules is there; returns the exit code when it stops before
 * launching anything (the Electron build of better-sqlite3 could not be made), else undefined.
 * The parts are injectable for tests: `binary` (the Electron executable or null), `buildParts`
 * (bundle.mjs's buildAll), `buildStep` (the native build step, which needs the network), `launch`.
 */
export async function startHalfkey({
  projectRoot = PROJECT_ROOT,
  args = process.argv.slice(2),
  binary = electronBinary(projectRoot),
  buildParts,
  buildStep = buildWithElectronRebuild,
  launch = runChild,
  out = (text) => process.stdout.write(text),
  err = (text) => process.stderr.write(text),
} = {}) {
  const say = (text) => out(`${PREFIX}${text}\n`);
  const build = buildParts ?? (await import('./bundle.mjs')).buildAll;
  const startPreview = async (parts) => {
    await build(parts);
    launch(process.execPath, ['--import', 'tsx', join(projectRoot, 'electron', 'preview', 'main.ts'), ...args], projectRoot);
  };
  if (!binary) {
    say('no Electron binary is installed here: building the renderer and the preview bridge, then starting the preview');
    await startPreview(['renderer', 'preview']);
    return undefined;
  }
  // First, so a build that cannot be made stops here in one line, before any bundling, and
  // Electron is never started without the better-sqlite3 it can load.
  try {
    await ensureElectronSqlite({ projectRoot, target: electronTarget({ projectRoot }), build: buildStep, say });
  } catch (error) {
    if (!(error instanceof ElectronSqliteBuildFailed)) throw error;
    err(`${PREFIX}${error.message}\n`);
    return 1;
  }
  say('building the renderer and the Electron bundles');
  const built = await build(['renderer', 'electron']);
  if (built.includes('dist/electron')) {
    // Electron is started on the project folder (package.json "main" names dist/electron/main.cjs):
    // given a file, it would take dist/electron/ as the app folder and miss dist/renderer/.
    launch(binary, [projectRoot, ...args], projectRoot);
    return undefined;
  }
  say('build/bundle-electron.mjs is missing: starting the preview instead');
  await startPreview(['preview']);
  return undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  installIfMissing((text) => process.stdout.write(`${PREFIX}${text}\n`));
  const code = await startHalfkey();
  if (code !== undefined) process.exitCode = code;
}
