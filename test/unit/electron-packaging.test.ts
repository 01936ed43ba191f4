import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { DebugLogger } from 'builder-util/out/DebugLogger';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { WORKER_SCRIPTS, bundleElectron } from '../../build/bundle-electron.mjs';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
let out: string;
let bundles: { readonly main: Metafile; readonly preload: Metafile };

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'halfkey-bundle-'));
  bundles = await bundleElectron({ outdir: out });
});

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

const ownInputs = (meta: Metafile): string[] => Object.keys(meta.inputs).filter((input) => !input.startsWith('node_modules/'));

describe('Electron bundles (esbuild metafiles)', () => {
  it('main.cjs is built from electron/main.ts and never includes the preview adapter', () => {
    const inputs = Object.keys(bundles.main.inputs);
    expect(inputs).toContain('electron/main/main.ts');
    expect(inputs).toContain('electron/main/ipc-adapter.ts');
    expect(inputs.filter((input) => input.startsWith('electron/preview/') || input.includes('/electron/preview/'))).toEqual([]);
    expect(existsSync(join(out, 'main.cjs'))).toBe(true);
  });

  it('main.cjs leaves the native modules to node_modules instead of bundling them', () => {
    const inputs = Object.keys(bundles.main.inputs);
    for (const native of ['better-sqlite3', 'keytar']) {
      expect(
        inputs.some((input) => input.startsWith(`node_modules/${native}/`)),
        native,
      ).toBe(false);
    }
    const code = readFileSync(join(out, 'main.cjs'), 'utf8');
    expect(code).toMatch(/require\("better-sqlite3"\)/);
    expect(code).toMatch(/require\("electron"\)/);
  });

  it('copies each bundled service migrations folder to where its rewritten module URL points', () => {
    const code = readFileSync(join(out, 'main.cjs'), 'utf8');
    expect(code).not.toContain('import.meta');
    const withMigrations = ownInputs(bundles.main).filter((input) => existsSync(join(projectRoot, dirname(input), 'migrations')));
    expect(withMigrations.length).toBeGreaterThan(0);
    for (const input of withMigrations) {
      const source = readdirSync(join(projectRoot, dirname(input), 'migrations')).filter((f) => f.endsWith('.sql'));
      expect(readdirSync(join(out, dirname(input), 'migrations')), input).toEqual(expect.arrayContaining(source));
    }
  });

  it('prebuilds every worker script where its pool looks first, so the app never needs esbuild at run time', async () => {
    expect(Object.keys(bundles.main.inputs).filter((input) => input.includes('node_modules/esbuild/'))).toEqual([]);
    for (const { entry } of WORKER_SCRIPTS) expect(existsSync(join(out, entry.replace(/\.ts$/, '.cjs'))), entry).toBe(true);
    // Each starts on plain Node from the prebuilt script alone and says it is ready.
    for (const entry of [
      'electron/journal/verify-worker.cjs',
      'electron/sync/export-chain-worker.cjs',
      'electron/reconcile/scan-worker.cjs',
    ]) {
      const worker = new Worker(readFileSync(join(out, entry), 'utf8'), { eval: true });
      try {
        await expect(new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject)))).resolves.toEqual({
          ready: true,
        });
      } finally {
        await worker.terminate();
      }
    }
  });

  it('preload.cjs is one file whose only external is electron, carrying no schemas or crypto', () => {
    expect(Object.keys(bundles.preload.outputs)).toHaveLength(1);
    const inputs = Object.keys(bundles.preload.inputs);
    expect(inputs).toContain('electron/preload/preload.ts');
    expect(inputs.filter((input) => input.startsWith('node_modules/'))).toEqual([]);
    expect(inputs.filter((input) => input.startsWith('shared/api/channels/') || input.includes('sodium'))).toEqual([]);
    const code = readFileSync(join(out, 'preload.cjs'), 'utf8');
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required).toEqual(['electron']);
  });
});

describe('electron-builder.yml', () => {
  let config: Awaited<ReturnType<typeof getConfig>>;
  beforeAll(async () => {
    config = await getConfig(projectRoot, join(projectRoot, 'electron-builder.yml'), null);
  });

  it("passes electron-builder's own schema validation", async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('sets every fuse of the checklist', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('unpacks the native modules from the asar and ships only the bundles, the renderer and the Electron build of better-sqlite3', () => {
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toEqual(['**/node_modules/keytar/**', 'build/native/**']);
    // getConfig normalises `files` to file sets ({ filter: [...] }); collect every pattern.
    const sets = [config.files].flat();
    const patterns = sets.flatMap((set) => (typeof set === 'string' ? [set] : [set?.filter ?? []].flat()));
    expect(patterns).toEqual(
      expect.arrayContaining(['package.json', 'dist/electron/**/*', 'dist/renderer/**/*', '!electron/**', '!dist/preview/**']),
    );
    expect(patterns.filter((p) => !p.startsWith('!')).sort()).toEqual([
      'build/native/electron-*-${platform}-*/**/*',
      'dist/electron/**/*',
      'dist/renderer/**/*',
      'package.json',
    ]);
  });

  it('names the app and targets AppImage and deb, dmg, and nsis', () => {
    expect(config.productName).toBe('Halfkey');
    expect(config.appId).toMatch(/^[a-z0-9.]+$/);
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.mac?.target).toEqual(['dmg']);
    expect(config.win?.target).toEqual(['nsis']);
  });
});
