import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMatcher } from 'app-builder-lib/out/fileMatcher';
import { getConfig } from 'app-builder-lib/out/util/config/config';
import { expandMacro } from 'app-builder-lib/out/util/macroExpander';
import { resolveFunction } from 'app-builder-lib/out/util/resolve';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// electron-builder's own config loader, hook resolver and file matcher, run on electron-builder.yml
// against files laid out as a packaging machine would have them (packaging itself needs an
// Electron download that is not possible here).
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
let config: Awaited<ReturnType<typeof getConfig>>;
let tree: string;

const other = process.platform === 'win32' ? 'linux' : 'win32';
const FILES = [
  `build/native/electron-150-${process.platform}-x64/better_sqlite3.node`,
  `build/native/electron-150-${process.platform}-x64/abi.json`,
  `build/native/electron-150-${other}-x64/better_sqlite3.node`,
  `build/native/.work-electron-150-${process.platform}-x64/better-sqlite3/build/Release/better_sqlite3.node`,
  `build/native/.electron-150-${process.platform}-x64.log`,
  'build/native-electron.mjs',
  'build/start.mjs',
  'dist/electron/main.cjs',
  'node_modules/better-sqlite3/lib/database.js',
  'node_modules/better-sqlite3/package.json',
  'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
  'node_modules/better-sqlite3/deps/sqlite3/sqlite3.c',
  'node_modules/better-sqlite3/src/better_sqlite3.cpp',
  'node_modules/keytar/build/Release/keytar.node',
];

beforeAll(async () => {
  config = await getConfig(projectRoot, join(projectRoot, 'electron-builder.yml'), null);
  tree = mkdtempSync(join(tmpdir(), 'halfkey-pack-tree-'));
  for (const file of FILES) {
    mkdirSync(dirname(join(tree, file)), { recursive: true });
    writeFileSync(join(tree, file), '');
  }
});

afterAll(() => {
  rmSync(tree, { recursive: true, force: true });
});

/** Which of FILES electron-builder's matcher takes, with macros expanded as when packaging x64 here. */
function matched(patterns: string[]): string[] {
  const expand = (pattern: string): string => expandMacro(pattern, 'x64', { productName: 'Halfkey' } as Parameters<typeof expandMacro>[2]);
  const filter = new FileMatcher(tree, '/', expand, patterns).createFilter();
  return FILES.filter((file) => filter(join(tree, file), statSync(join(tree, file))));
}

const patternsOf = (value: unknown): string[] =>
  [value]
    .flat()
    .flatMap((set) => (typeof set === 'string' ? [set] : [(set as { filter?: string | string[] } | null)?.filter ?? []].flat()));

describe('electron-builder.yml and the two builds of better-sqlite3', () => {
  it('never rebuilds node_modules (npmRebuild: false): the Node build stays what npm installed', () => {
    expect(config.npmRebuild).toBe(false);
  });

  it("runs build/native-electron.mjs's beforePack before packing, as electron-builder resolves it", async () => {
    const hook = await resolveFunction<unknown>(undefined, config.beforePack as string, 'beforePack', projectRoot);
    expect(typeof hook).toBe('function');
    expect((hook as { name: string }).name).toBe('beforePack');
  });

  it('ships the Electron build folders of this platform, and none of the work folders, logs or build scripts', () => {
    expect(matched(patternsOf(config.files).filter((p) => !p.startsWith('!**/node_modules')))).toEqual([
      `build/native/electron-150-${process.platform}-x64/better_sqlite3.node`,
      `build/native/electron-150-${process.platform}-x64/abi.json`,
      'dist/electron/main.cjs',
    ]);
  });

  it("ships better-sqlite3's JavaScript but not its Node binary nor its C sources; keytar's (N-API) binary ships", () => {
    // electron-builder's node_modules matcher: everything, minus the exclusions in `files`.
    const excludes = patternsOf(config.files).filter((p) => p.startsWith('!'));
    expect(matched(['**/*', ...excludes]).filter((file) => file.startsWith('node_modules/'))).toEqual([
      'node_modules/better-sqlite3/lib/database.js',
      'node_modules/better-sqlite3/package.json',
      'node_modules/keytar/build/Release/keytar.node',
    ]);
  });

  it('unpacks the Electron build and keytar from the asar (dlopen cannot read inside it)', () => {
    const unpacked = matched([config.asarUnpack].flat().filter((p): p is string => typeof p === 'string'));
    expect(unpacked).toEqual(
      expect.arrayContaining([
        `build/native/electron-150-${process.platform}-x64/better_sqlite3.node`,
        'node_modules/keytar/build/Release/keytar.node',
      ]),
    );
    expect(unpacked).not.toContain('node_modules/better-sqlite3/lib/database.js');
  });
});
