import { join } from 'node:path';
import { checkNativeBinding, nativeBuildFolder, NATIVE_BUILDS_DIR, runningTarget, SQLITE_ADDON_FILE } from '../base/native-binding';

/**
 * This Electron's build of better-sqlite3, checked against its tag before anything loads it:
 * build/native/electron-<abi>-<platform>-<arch>/ under the project folder in development (made
 * by `npm start`), under app.asar.unpacked when packaged (dlopen cannot read inside the archive;
 * electron-builder.yml unpacks it). The folder is named from this process's own runtime and ABI
 * (electron-150-linux-x64), so an Electron upgrade looks for a new build, never the old one.
 */
export function electronSqliteBinding(appPath: string, packaged: boolean): string {
  const root = appPath.endsWith('.asar') ? `${appPath}.unpacked` : appPath;
  const self = runningTarget();
  const addon = join(root, ...NATIVE_BUILDS_DIR, nativeBuildFolder(self), SQLITE_ADDON_FILE);
  const remedy = packaged
    ? 'this installation of Halfkey is incomplete or damaged; reinstall it'
    : 'run `npm start`, which builds better-sqlite3 for the installed Electron (or `node build/native-electron.mjs` to build only that)';
  return checkNativeBinding(addon, { self, remedy });
}
