import type { Metafile } from 'esbuild';

/** Native or optional modules left out of main.cjs and loaded from node_modules (asarUnpack). */
export declare const MAIN_EXTERNALS: readonly string[];

/** Builds dist/electron/main.cjs and preload.cjs (or into `outdir`); returns esbuild's metafiles. */
export declare function bundleElectron(options?: { readonly outdir?: string }): Promise<{ readonly main: Metafile; readonly preload: Metafile }>;
