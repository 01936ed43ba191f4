#!/usr/bin/env node
// `npm run build`: the renderer (Vite), the preview bridge (esbuild) and, once the Electron
// adapter provides build/bundle-electron.mjs, the main-process and preload bundles.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const at = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** Builds renderer/ into dist/renderer with Vite. */
export async function buildRenderer() {
  const { build } = await import('vite');
  await build({ configFile: at('renderer/vite.config.ts'), logLevel: 'warn' });
}

/** Bundles electron/preview/bridge.ts into dist/preview/preview-bridge.js for the preview server. */
export async function buildPreviewBridge() {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [at('electron/preview/bridge.ts')],
    outfile: at('dist/preview/preview-bridge.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: false,
    minify: true,
    logLevel: 'warning',
  });
}

/** Runs the Electron adapter's bundler if it exists; returns whether it ran. */
export function buildElectron() {
  const script = at('build/bundle-electron.mjs');
  if (!existsSync(script)) return false;
  const run = spawnSync(process.execPath, [script], { cwd: projectRoot, stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`build/bundle-electron.mjs failed (exit ${run.status ?? run.signal})`);
  return true;
}

/** Everything `npm run build` produces. */
export async function buildAll() {
  await buildRenderer();
  await buildPreviewBridge();
  const electron = buildElectron();
  return { electron };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { electron } = await buildAll();
  process.stdout.write(`built dist/renderer, dist/preview${electron ? ', dist/electron' : ' (no build/bundle-electron.mjs yet: Electron bundles skipped)'}\n`);
}
