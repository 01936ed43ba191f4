import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  NATIVE_BUILDS_DIR,
  NATIVE_TAG_FILE,
  nativeBuildFolder,
  runningTarget,
  SQLITE_ADDON_FILE,
  type NativeBuildTag,
} from '../../electron/base/native-binding';

const require = createRequire(import.meta.url);

/** node_modules' better-sqlite3 binary: the Node build npm installed. */
export const NODE_SQLITE_ADDON = join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', SQLITE_ADDON_FILE);

/**
 * Stand-in for the Electron build of better-sqlite3, where no Electron exists. The Electron main
 * process is run here in Node (with a stand-in for the `electron` module), and main looks for the
 * build of the runtime it really runs in: build/native/node-<abi>-<platform>-<arch>/ under the app
 * folder. This puts a copy of the Node build there, tagged as what it is, so main's own path (find
 * the build under the app folder, check its tag, pass it as nativeBinding) runs for real, and a
 * load of any other copy of the addon is visible by its path. Returns the copy's path.
 */
export function provideSqliteBuildForThisRuntime(appPath: string): string {
  const self = runningTarget();
  const dir = join(appPath, ...NATIVE_BUILDS_DIR, nativeBuildFolder(self));
  mkdirSync(dir, { recursive: true });
  const addon = join(dir, SQLITE_ADDON_FILE);
  copyFileSync(NODE_SQLITE_ADDON, addon);
  const moduleVersion = (JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
  const tag: NativeBuildTag = {
    runtime: self.runtime,
    abi: self.abi,
    platform: self.platform,
    arch: self.arch,
    module: 'better-sqlite3',
    moduleVersion,
  };
  writeFileSync(join(dir, NATIVE_TAG_FILE), JSON.stringify(tag));
  return addon;
}
