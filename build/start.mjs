#!/usr/bin/env node
// `npm start`: install if needed, build, then run Electron when its binary is installed, or
// else the preview adapter (the same services and UI, served to Chromium on 127.0.0.1).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const at = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const say = (text) => process.stdout.write(`halfkey start: ${text}\n`);

function installIfMissing() {
  if (existsSync(at('node_modules'))) return;
  const command = existsSync(at('package-lock.json')) ? 'ci' : 'install';
  // The Electron binary cannot be fetched everywhere; the preview fallback covers that case.
  say(`node_modules is missing: running npm ${command} (ELECTRON_SKIP_BINARY_DOWNLOAD=1)`);
  const run = spawnSync('npm', [command], { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } });
  if (run.status !== 0) throw new Error(`npm ${command} failed (exit ${run.status ?? run.signal})`);
}

/** The Electron binary's path when it is really installed; `require('electron')` returns it. */
function electronBinary() {
  try {
    const path = createRequire(import.meta.url)('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
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
say('building the renderer, the preview bridge and the Electron bundles');
const { electron: electronBuilt } = await buildAll();
const binary = electronBinary();
if (binary && electronBuilt && existsSync(at('dist/electron/main.cjs'))) {
  runChild(binary, [at('dist/electron/main.cjs'), ...process.argv.slice(2)]);
} else {
  say(binary ? 'the Electron bundles are not built yet: starting the preview instead' : 'no Electron binary is installed here: starting the preview instead');
  runChild(process.execPath, ['--import', 'tsx', at('electron/preview/main.ts'), ...process.argv.slice(2)]);
}
