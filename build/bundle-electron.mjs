#!/usr/bin/env node
// Bundles the Electron main process and the preload with esbuild:
//   electron/main/main.ts→ dist/electron/main.cjs     (Node inside Electron; native modules stay external)
//   electron/preload/preload.ts→ dist/electron/preload.cjs  (ONE file: a sandboxed preload cannot require() siblings)
// Usage: node build/bundle-electron.mjs   (or import { bundleElectron } from it)
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** Native or optional modules that must be loaded from node_modules (asarUnpack), not bundled. */
export const MAIN_EXTERNALS = Object.freeze(['electron', 'better-sqlite3', 'keytar', 'pg-native']);

/**
 * Worker-thread scripts, prebuilt where each pool looks first (beside its module's rewritten URL:
 * `new URL('./NAME.cjs', import.meta.url)`), so the packaged app never bundles a worker at run
 * time: esbuild is a build tool, not part of the app. Each entry: the worker's source and, where
 * its pool exports them, the module and name of the build options it uses from a checkout.
 */
export const WORKER_SCRIPTS = Object.freeze([
  { entry: 'electron/journal/verify-worker.ts', options: ['../electron/journal/parallel-verify.ts', 'VERIFY_WORKER_BUILD'] },
  { entry: 'electron/sync/export-chain-worker.ts', options: ['../electron/sync/export-parallel.ts', 'EXPORT_CHAIN_WORKER_BUILD'] },
  { entry: 'electron/reconcile/scan-worker.ts', options: null },
]);

/** Electron 45 ships Node 22 and Chromium 140. */
const NODE_TARGET = 'node22';
const CHROME_TARGET = 'chrome140';

/**
 * Services find their SQL migrations with `new URL('./migrations', import.meta.url)`. A CJS bundle
 * has no import.meta, and every module ends up in one file, so each module's import.meta.url is
 * rewritten to where that module would sit under dist/electron/ (its path relative to the
 * project), and the migrations folders are copied to those places.
 */
function moduleUrlPlugin(outdir) {
  return {
    name: 'halfkey-module-url',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
        const where = relative(projectRoot, args.path).split(sep).join('/');
        const expression = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(where)})).href`;
        return { contents: source.replaceAll('import.meta.url', expression), loader: 'ts' };
      });
      build.onEnd(async (result) => {
        if (result.errors.length > 0 || !result.metafile) return;
        for (const input of Object.keys(result.metafile.inputs)) {
          if (input.includes('node_modules/')) continue;
          const migrations = join(projectRoot, dirname(input), 'migrations');
          if (!(await isDirectory(migrations))) continue;
          await cp(migrations, join(outdir, dirname(input), 'migrations'), { recursive: true });
        }
      });
    },
  };
}

/**
 * The preload needs only the channel names and their method names, not the schemas (zod) nor
 * what they import (the journal verifier pulls in libsodium). It gets a generated stand-in for
 * shared/api/contract.ts holding that table, computed from the real contract at build time.
 */
async function channelTablePlugin() {
  const { tsImport } = await import('tsx/esm/api');
  const contract = await tsImport('../shared/api/contract.ts', import.meta.url);
  const table = Object.fromEntries(contract.CHANNEL_NAMES.map((channel) => [channel, contract.methodName(channel)]));
  const contractPath = join(projectRoot, 'shared', 'api', 'contract.ts');
  return {
    name: 'halfkey-channel-table',
    setup(build) {
      build.onResolve({ filter: /\/contract$/ }, (args) => {
        const resolved = join(args.resolveDir, `${args.path}.ts`);
        return resolved === contractPath ? { path: 'channel-table', namespace: 'halfkey-generated' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'halfkey-generated' }, () => ({
        loader: 'js',
        contents: [
          `const TABLE = Object.freeze(${JSON.stringify(table)});`,
          'export const CHANNEL_NAMES = Object.freeze(Object.keys(TABLE));',
          'export function methodName(channel) { return TABLE[channel]; }',
        ].join('\n'),
      }));
    },
  };
}

async function isDirectory(path) {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Builds both bundles into `outdir` (default dist/electron) and returns esbuild's metafiles, so
 * tests can check what went into each bundle.
 */
export async function bundleElectron({ outdir = join(projectRoot, 'dist', 'electron') } = {}) {
  const esbuild = await import('esbuild');
  await mkdir(outdir, { recursive: true });
  const common = { bundle: true, format: 'cjs', sourcemap: false, metafile: true, logLevel: 'warning', absWorkingDir: projectRoot };
  const main = await esbuild.build({
    ...common,
    entryPoints: [join(projectRoot, 'electron', 'main', 'main.ts')],
    outfile: join(outdir, 'main.cjs'),
    platform: 'node',
    target: NODE_TARGET,
    // esbuild only builds the worker scripts from a checkout; the app ships them prebuilt.
    external: [...MAIN_EXTERNALS, 'esbuild'],
    // Services load keytar (and electron's clipboard) lazily with import(). Left as import(), the
    // ESM loader would resolve it, which ignores NODE_PATH and depends on ESM-in-asar support;
    // turned into require() it resolves like every other external of this CJS bundle.
    supported: { 'dynamic-import': false },
    plugins: [moduleUrlPlugin(outdir)],
  });
  const preload = await esbuild.build({
    ...common,
    entryPoints: [join(projectRoot, 'electron', 'preload', 'preload.ts')],
    outfile: join(outdir, 'preload.cjs'),
    // A sandboxed preload gets a browser-like environment with a limited require('electron').
    platform: 'browser',
    target: CHROME_TARGET,
    external: ['electron'],
    plugins: [await channelTablePlugin()],
  });
  const { tsImport } = await import('tsx/esm/api');
  for (const { entry, options } of WORKER_SCRIPTS) {
    const own = options === null ? {} : (await tsImport(options[0], import.meta.url))[options[1]];
    await esbuild.build({
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'warning',
      ...own,
      target: NODE_TARGET,
      absWorkingDir: projectRoot,
      entryPoints: [join(projectRoot, entry)],
      outfile: join(outdir, entry.replace(/\.ts$/, '.cjs')),
    });
  }
  await writeFile(join(outdir, 'meta.json'), JSON.stringify({ main: main.metafile, preload: preload.metafile }));
  return { main: main.metafile, preload: preload.metafile };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await bundleElectron();
  process.stdout.write('built dist/electron/main.cjs and dist/electron/preload.cjs\n');
}
