import type { ElectronSqliteBuildStep } from './native-electron.mjs';

/** The Electron executable when really installed (path.txt, ELECTRON_OVERRIDE_DIST_PATH), else null. */
export declare function electronBinary(projectRoot?: string): string | null;

/** What `npm start` does once node_modules is there; the exit code when it stops before launching, else undefined. */
export declare function startHalfkey(options?: {
  readonly projectRoot?: string;
  readonly args?: readonly string[];
  readonly binary?: string | null;
  readonly buildParts?: (parts: readonly string[]) => Promise<readonly string[]>;
  readonly buildStep?: ElectronSqliteBuildStep;
  readonly launch?: (command: string, args: readonly string[], cwd: string) => void;
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
}): Promise<number | undefined>;
