import type { Metafile } from 'esbuild';

/** Native or optional modules left out of main.cjs and loaded from node_modules (asarUnpack). */
export declare const MAIN_EXTERNALS: readonly string[];

/** Worker-thread scripts prebuilt beside their pools' rewritten module URLs (entry: the worker's source). */
export declare const WORKER_SCRIPTS: readonly { readonly entry: string; readonly options: readonly [string, string] | null }[];

/** Builds dist/electron/main.cjs and preload.cjs (or into `outdir`); returns esbuild's metafiles. */
export declare function bundleElectron(options?: { readonly outdir?: string }): Promise<{ readonly main: Metafile; readonly preload: Metafile }>;
