import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { _electron as electron, type ElectronApplication, type Page } from '@playwright/test';
import { bundleElectron } from '../../build/bundle-electron.mjs';
import { ensureElectronSqlite } from '../../build/native-electron.mjs';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The Electron executable, or why there is none. require('electron') returns the executable's
 * path, but when the binary was never installed it first tries to download it (which stalls
 * without network), so its path.txt is checked before asking.
 */
export function findElectronBinary(): { readonly path: string } | { readonly missing: string } {
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { missing: 'the electron package is not installed' };
  }
  if (!existsSync(join(packageDir, 'path.txt')) && process.env.ELECTRON_OVERRIDE_DIST_PATH === undefined) {
    return {
      missing: `${join(packageDir, 'path.txt')} does not exist (installed with ELECTRON_SKIP_BINARY_DOWNLOAD or the download failed)`,
    };
  }
  let path: unknown;
  try {
    path = require('electron');
  } catch (error) {
    return { missing: `require('electron') failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof path !== 'string') return { missing: "require('electron') did not return a path" };
  return existsSync(path) ? { path } : { missing: `${path} does not exist` };
}

/** A running Halfkey: the app, its first window, and the fresh userData folder it keeps its vault in. */
export interface LaunchedHalfkey {
  readonly app: ElectronApplication;
  readonly page: Page;
  readonly userData: string;
}

/**
 * Starts the real app the way `npm start` does: the bundles, better-sqlite3 built for this
 * Electron (made on first use, which downloads; reused afterwards), then Electron on the project
 * folder with a userData folder of its own.
 */
export async function launchHalfkey(binary: string): Promise<LaunchedHalfkey> {
  await bundleElectron();
  if (!existsSync(join(projectRoot, 'dist', 'renderer', 'index.html')))
    throw new Error('dist/renderer is not built: run npm run build first');
  await ensureElectronSqlite({ say: (text) => process.stdout.write(`electron specs: ${text}\n`) });
  const userData = mkdtempSync(join(tmpdir(), 'halfkey-electron-'));
  const app = await electron.launch({
    executablePath: binary,
    // The project folder, not main.cjs: Electron then takes package.json's name and main, and
    // app.getAppPath() is the folder holding dist/ and build/native/ (given a file, it would be dist/electron/).
    args: [projectRoot, `--user-data-dir=${userData}`],
    cwd: projectRoot,
  });
  const page = await app.firstWindow();
  await page.waitForLoadState('domcontentloaded');
  return { app, page, userData };
}
