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
  await build({ configFile: at('build/vite.renderer.config.ts'), logLevel: 'warn' });
}

/**
 * The API's [method, channel] pairs, read from shared/api/contract.ts at build time. The bridge
 * gets them as a constant instead of importing the contract: the contract's schemas pull in
 * libsodium, whose WebAssembly the page's CSP (rightly) refuses to compile.
 */
export async function apiMethods() {
  const { tsImport } = await import('tsx/esm/api');
  const contract = await tsImport('../shared/api/contract.ts', import.meta.url);
  return contract.CHANNEL_NAMES.map((channel) => [contract.methodName(channel), channel]);
}

/** Bundles electron/preview/page/bridge.ts into dist/preview/preview-bridge.js for the preview server. */
export async function buildPreviewBridge() {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [at('electron/preview/page/bridge.ts')],
    outfile: at('dist/preview/preview-bridge.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: false,
    minify: true,
    define: { __HALFKEY_API_METHODS__: JSON.stringify(await apiMethods()) },
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

/** The parts `npm run build` produces; `node build/bundle.mjs renderer preview` builds only those. */
export const PARTS = ['renderer', 'preview', 'electron'];

/** Builds the given parts (all by default); returns which were built. */
export async function buildAll(parts = PARTS) {
  const unknown = parts.filter((part) => !PARTS.includes(part));
  if (unknown.length > 0) throw new Error(`unknown build part(s): ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}`);
  const built = [];
  if (parts.includes('renderer')) {
    await buildRenderer();
    built.push('dist/renderer');
  }
  if (parts.includes('preview')) {
    await buildPreviewBridge();
    built.push('dist/preview');
  }
  if (parts.includes('electron')) {
    built.push(buildElectron() ? 'dist/electron' : 'no dist/electron (build/bundle-electron.mjs is missing)');
  }
  return built;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const built = await buildAll(args.length > 0 ? args : PARTS);
  process.stdout.write(`built ${built.join(', ')}\n`);
}
