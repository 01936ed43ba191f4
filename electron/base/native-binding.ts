import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// better-sqlite3 is a V8-API addon (`#include <node.h>`, not N-API), so one binary serves one ABI
// (NODE_MODULE_VERSION): Node 20 is 115, Electron 45 is 150. Node code loads the build npm put in
// node_modules. The Electron main process loads its own build, made by build/native-electron.mjs
// into build/native/electron-<abi>-<platform>-<arch>/ and passed as better-sqlite3's
// `nativeBinding`. Each such build carries a tag (abi.json) that is checked here before anything
// is loaded, so a process handed the other runtime's build refuses it in a sentence instead of
// failing inside dlopen with NODE_MODULE_VERSION. keytar is N-API and needs none of this.

/** The addon file better-sqlite3 builds, in node_modules and in each Electron build folder. */
export const SQLITE_ADDON_FILE = 'better_sqlite3.node';
/** The tag the build step writes beside the addon. */
export const NATIVE_TAG_FILE = 'abi.json';
/** Where the Electron builds live, relative to the project folder (or the unpacked app when packaged). */
export const NATIVE_BUILDS_DIR = ['build', 'native'] as const;

export type NativeRuntime = 'node' | 'electron';

/** What a binary is for: the runtime, its module ABI (NODE_MODULE_VERSION), the platform and the CPU. */
export interface NativeTarget {
  readonly runtime: NativeRuntime;
  readonly abi: string;
  readonly platform: string;
  readonly arch: string;
}

/** The tag in abi.json: the target, and what the build was made from. */
export interface NativeBuildTag extends NativeTarget {
  /** The Electron version it was built against (Electron builds only). */
  readonly electronVersion?: string;
  readonly module: string;
  readonly moduleVersion: string;
}

/** This process as a target, with its runtime's version (Electron's, or Node's). */
export interface RunningTarget extends NativeTarget {
  readonly version: string;
}

/** A native build refused before loading it: built for another runtime, ABI, platform or CPU, or untagged. */
export class NativeBindingRefused extends Error {
  override readonly name = 'NativeBindingRefused';
}

/** The process this code runs in: the Electron main process (process.versions.electron is set) or Node. */
export function runningTarget(): RunningTarget {
  const electron = process.versions.electron;
  return {
    runtime: electron === undefined ? 'node' : 'electron',
    version: electron ?? process.versions.node,
    abi: process.versions.modules,
    platform: process.platform,
    arch: process.arch,
  };
}

/**
 * `<runtime>-<abi>-<platform>-<arch>` (`electron-150-linux-x64`): the folder of one build under
 * build/native/, named by what it is for, so a new Electron (a new ABI) looks for a new folder.
 */
export function nativeBuildFolder(target: NativeTarget): string {
  return `${target.runtime}-${target.abi}-${target.platform}-${target.arch}`;
}

function describe(target: NativeTarget, version: string | undefined): string {
  const name = target.runtime === 'electron' ? 'Electron' : 'Node';
  return `${version === undefined ? name : `${name} ${version}`} (ABI ${target.abi}, ${target.platform}-${target.arch})`;
}

function isTag(value: unknown): value is NativeBuildTag {
  if (typeof value !== 'object' || value === null) return false;
  const tag = value as Record<string, unknown>;
  return (
    (tag.runtime === 'node' || tag.runtime === 'electron') &&
    ['abi', 'platform', 'arch', 'module', 'moduleVersion'].every((key) => typeof tag[key] === 'string') &&
    (tag.electronVersion === undefined || typeof tag.electronVersion === 'string')
  );
}

/** The tag beside an addon, or null when there is none or it cannot be read as one. */
export function readNativeTag(addonPath: string): NativeBuildTag | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dirname(addonPath), NATIVE_TAG_FILE), 'utf8'));
  } catch {
    return null;
  }
  return isTag(parsed) ? parsed : null;
}

/** What to do about a refused build, said to whoever runs this process. */
function defaultRemedy(self: RunningTarget): string {
  return self.runtime === 'electron'
    ? 'run `npm start`, which builds better-sqlite3 for the installed Electron (or `node build/native-electron.mjs` to build only that)'
    : 'code running in Node uses the build npm installed in node_modules: pass no nativeBinding';
}

/**
 * Checks, without loading it, that the better-sqlite3 addon at `addonPath` was built for this
 * process: its abi.json must name this runtime, ABI, platform and CPU. Returns the path, or throws
 * NativeBindingRefused saying whose build it is and what to do (`remedy`, default for the runtime).
 */
export function checkNativeBinding(addonPath: string, options: { readonly self?: RunningTarget; readonly remedy?: string } = {}): string {
  const self = options.self ?? runningTarget();
  const remedy = options.remedy ?? defaultRemedy(self);
  if (!existsSync(addonPath)) {
    throw new NativeBindingRefused(`There is no better-sqlite3 build for ${describe(self, self.version)} at ${addonPath}: ${remedy}.`);
  }
  const tag = readNativeTag(addonPath);
  if (tag === null) {
    throw new NativeBindingRefused(
      `Refusing the better-sqlite3 build at ${addonPath}: it has no readable ${NATIVE_TAG_FILE} beside it saying what it was built for, so it is not loaded; ${remedy}.`,
    );
  }
  const fits = tag.runtime === self.runtime && tag.abi === self.abi && tag.platform === self.platform && tag.arch === self.arch;
  if (!fits) {
    throw new NativeBindingRefused(
      `Refusing the better-sqlite3 build in ${dirname(addonPath)}: it was built for ${describe(tag, tag.electronVersion)} and this process is ${describe(self, self.version)}; ${remedy}.`,
    );
  }
  return addonPath;
}

/**
 * better-sqlite3's `nativeBinding` option for this process, checked: `{ nativeBinding }` when a
 * build is given, `{}` in Node without one (better-sqlite3 then loads node_modules' build). In
 * Electron a build is required: the one in node_modules is Node's, and loading it would fail with
 * NODE_MODULE_VERSION, so a call site that forgot to pass one is named here instead.
 */
export function sqliteBinding(nativeBinding: string | undefined, self: RunningTarget = runningTarget()): { nativeBinding?: string } {
  if (nativeBinding !== undefined) return { nativeBinding: checkNativeBinding(nativeBinding, { self }) };
  if (self.runtime === 'electron') {
    throw new NativeBindingRefused(
      `better-sqlite3 was opened in ${describe(self, self.version)} without its Electron build; the build in node_modules is Node's. electron/main passes one to openAppServices({ nativeBinding }); pass it on to this database too.`,
    );
  }
  return {};
}
