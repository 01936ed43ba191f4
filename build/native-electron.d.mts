/** What a native build is for, and (as abi.json) what it was made from. */
export interface ElectronTarget {
  readonly runtime: 'electron';
  readonly abi: string;
  readonly platform: string;
  readonly arch: string;
  readonly electronVersion: string;
  readonly module: 'better-sqlite3';
  readonly moduleVersion: string;
}

/** The step that produces a better_sqlite3.node for `target`, returning its path (the real one needs the network). */
export type ElectronSqliteBuildStep = (input: { readonly projectRoot: string; readonly target: ElectronTarget; readonly workDir: string; readonly logFile: string }) => Promise<string>;

/** A build that could not be made; its message is one line naming what to run next. */
export declare class ElectronSqliteBuildFailed extends Error {}

/** The installed electron's version and node-abi's ABI for it, this platform (or `arch`), better-sqlite3's version. */
export declare function electronTarget(options?: { readonly projectRoot?: string; readonly platform?: string; readonly arch?: string }): ElectronTarget;

export interface ElectronBuildPaths {
  readonly builds: string;
  readonly folder: string;
  readonly dir: string;
  readonly addon: string;
  readonly workDir: string;
  readonly stagingDir: string;
  readonly logFile: string;
  readonly shown: (path: string) => string;
}
export declare function electronBuildPaths(target: ElectronTarget, projectRoot?: string): Promise<ElectronBuildPaths>;

export declare function inspectElectronBuild(target: ElectronTarget, projectRoot?: string): Promise<{ readonly state: 'present' | 'missing' } | { readonly state: 'stale'; readonly reason: string }>;

/** The ABI in a V8-API addon's `node_register_module_v<ABI>` symbol, read without loading it; null if none. */
export declare function addonAbi(path: string): string | null;

/** One phrase saying why @electron/rebuild failed, from its log. */
export declare function buildFailureCause(log: string): string;

/** The environment of the build step: npm's config variables that would redirect node-gyp dropped. */
export declare function electronRebuildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv;

/** The real build step: @electron/rebuild on a copy of better-sqlite3's sources. */
export declare const buildWithElectronRebuild: ElectronSqliteBuildStep;

/** Reuses, builds or rebuilds build/native/electron-<abi>-<platform>-<arch>/; throws ElectronSqliteBuildFailed. */
export declare function ensureElectronSqlite(options?: {
  readonly projectRoot?: string;
  readonly target?: ElectronTarget;
  readonly build?: ElectronSqliteBuildStep;
  readonly say?: (text: string) => void;
  readonly force?: boolean;
}): Promise<{ readonly dir: string; readonly addon: string; readonly built: boolean }>;

/** electron-builder's beforePack hook. */
export declare function beforePack(
  context: { readonly electronPlatformName: string; readonly arch: number },
  options?: { readonly projectRoot?: string; readonly build?: ElectronSqliteBuildStep },
): Promise<void>;
