#!/usr/bin/env node
// The one step of build/native-electron.mjs that needs the network: @electron/rebuild on a COPY of
// better-sqlite3 (never on node_modules, which keeps the Node build). It first tries the prebuilt
// binary for the electron runtime (prebuild-install, from better-sqlite3's GitHub releases), then
// compiles with node-gyp against Electron's headers (downloaded from electronjs.org). Run as a
// child so all of its output goes to the build log, not to the terminal.
//   node build/native-electron-rebuild.mjs <copy of better-sqlite3> <electron version> <arch>
import process from 'node:process';
import { rebuild } from '@electron/rebuild';

const [modulePath, electronVersion, arch] = process.argv.slice(2);
if (!modulePath || !electronVersion || !arch) {
  process.stderr.write('usage: node build/native-electron-rebuild.mjs <module folder> <electron version> <arch>\n');
  process.exit(2);
}
try {
  // The module folder itself is the build path: @electron/rebuild always rebuilds it (it has a
  // binding.gyp) and finds nothing else to rebuild there. force: the copy has no build to keep.
  await rebuild({
    buildPath: modulePath,
    electronVersion,
    arch,
    onlyModules: ['better-sqlite3'],
    force: true,
    mode: 'sequential',
    disablePreGypCopy: true,
  });
  process.stdout.write(`halfkey: built better-sqlite3 for Electron ${electronVersion} (${arch})\n`);
} catch (error) {
  process.stderr.write(`halfkey: @electron/rebuild failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
