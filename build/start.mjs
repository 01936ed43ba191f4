#!/usr/bin/env node
// `npm start`: install if needed, build, then run Electron when its binary is installed, or
// else the preview adapter (the same services and UI, served to Chromium on 127.0.0.1).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const at = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const say = (text) => process.stdout.write(`halfkey start: ${text}\n`);

function installIfMissing() {
  if (existsSync(at('node_modules'))) return;
  // npm ci installs exactly the committed lock and never rewrites it. The Electron binary cannot be
  // fetched everywhere; the preview fallback covers that case.
  say('node_modules is missing: running npm ci (ELECTRON_SKIP_BINARY_DOWNLOAD=1, the Electron binary is not downloaded)');
  const run = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } });
  if (run.status !== 0) throw new Error(`npm ci failed (exit ${run.status ?? run.signal})`);
}

/**
 * The Electron binary's path when it is really installed, else null. Read the way the electron
 * package does (path.txt under its dist/), without require('electron'): that tries to download
 * the binary when it is missing, which fails and stalls where there is no network.
 */
function electronBinary() {
  let packageDir;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
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

function runChild(command, args) {
  const child = spawn(command, args, { cwd: projectRoot, stdio: 'inherit' });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

installIfMissing();
const { buildAll } = await import('./bundle.mjs');
const binary = electronBinary();
if (binary) {
  say('building the renderer and the Electron bundles');
  const built = await buildAll(['renderer', 'electron']);
  if (built.includes('dist/electron')) {
    // Electron is started on the project folder (package.json "main" names dist/electron/main.cjs):
    // given a file, it would take dist/electron/ as the app folder and miss dist/renderer/.
    runChild(binary, [projectRoot, ...process.argv.slice(2)]);
  } else {
    say('build/bundle-electron.mjs is missing: starting the preview instead');
    await buildAll(['preview']);
    runChild(process.execPath, ['--import', 'tsx', at('electron/preview/main.ts'), ...process.argv.slice(2)]);
  }
} else {
  say('no Electron binary is installed here: building the renderer and the preview bridge, then starting the preview');
  await buildAll(['renderer', 'preview']);
  runChild(process.execPath, ['--import', 'tsx', at('electron/preview/main.ts'), ...process.argv.slice(2)]);
}
