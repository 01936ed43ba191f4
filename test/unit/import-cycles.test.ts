import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * No import circles. Every import counts, `import type`, `export … from` and `import()` included:
 * a type a child imports back from its parent is still a circle in the code's structure (the
 * lint plugins' no-cycle rules skip type imports, which is why this is a test and not one of them).
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = /\.(?:ts|tsx|mts|cts|js|mjs|cjs)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'test-results', 'playwright-report']);

/** The project's own resolution (tsconfig.json), plus plain JavaScript for build/*.mjs. */
function compilerOptions(): ts.CompilerOptions {
  const { config } = ts.readConfigFile(join(repoRoot, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, repoRoot);
  return { ...options, allowJs: true };
}
const options = compilerOptions();

/** Every source file under `dir`, skipping dot folders and build output. */
function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(path));
    else if (entry.isFile() && SOURCE.test(entry.name)) found.push(path);
  }
  return found;
}

type Graph = ReadonlyMap<string, readonly string[]>;

/** file → the files it imports, kept to `files` (packages and files outside are not followed). */
function importGraph(files: readonly string[]): Graph {
  const known = new Set(files);
  const cache = ts.createModuleResolutionCache(repoRoot, (name) => name, options);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = new Set<string>();
    for (const { fileName } of importedFiles) {
      const resolved = ts.resolveModuleName(fileName, file, options, ts.sys, cache).resolvedModule;
      if (resolved !== undefined && known.has(resolved.resolvedFileName)) targets.add(resolved.resolvedFileName);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** The strongly connected components with a circle in them (Tarjan), each as sorted names. */
function circles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** One concrete loop through a circle, for the failure message: a → b → … → a. */
function loopThrough(graph: Graph, component: readonly string[]): string {
  const members = new Set(component);
  const start = component[0] ?? '';
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() ?? '';
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined && at !== start; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, start].join(' → ');
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return component.join(', ');
}

const relativeTo = (root: string) => (path: string) => relative(root, path).split(sep).join('/');

/** The circles among `files`, as paths relative to `root`, each with one loop spelled out. */
function fileCircles(root: string, files: readonly string[]): { readonly files: string[]; readonly loop: string }[] {
  const name = relativeTo(root);
  const graph = importGraph(files);
  const named = new Map([...graph].map(([file, targets]) => [name(file), targets.map(name)]));
  return circles(named).map((component) => ({ files: component, loop: loopThrough(named, component) }));
}

/** The circles between the top folders of `srcRoot` (a file directly in it counts as folder "."). */
function folderCircles(srcRoot: string, files: readonly string[]): { readonly folders: string[]; readonly loop: string }[] {
  const folderOf = (file: string): string => {
    const parts = relativeTo(srcRoot)(file).split('/');
    return parts.length > 1 ? (parts[0] ?? '.') : '.';
  };
  const graph = new Map<string, Set<string>>();
  for (const [file, targets] of importGraph(files)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    for (const target of targets) if (folderOf(target) !== from) edges.add(folderOf(target));
    graph.set(from, edges);
  }
  const folders = new Map([...graph].map(([folder, targets]) => [folder, [...targets]]));
  return circles(folders).map((component) => ({ folders: component, loop: loopThrough(folders, component) }));
}

/**
 * Circles that were already there outside renderer/, in folders other people own. Listed so that
 * this test stops any new one (or any file joining these) while they are taken apart; remove an
 * entry when its circle is gone (the test says so).
 */
const KNOWN_CIRCLES: readonly (readonly string[])[] = [
  // server/storage/storage.ts opens sqlite.ts or postgres.ts (dynamic imports); they import its types back.
  ['server/storage/postgres.ts', 'server/storage/relational.ts', 'server/storage/sqlite.ts', 'server/storage/storage.ts'],
];

describe('import circles', () => {
  const renderer = join(repoRoot, 'renderer');
  const rendererSrc = join(renderer, 'src');

  it('renderer/ has none, counting type-only and dynamic imports', () => {
    expect(fileCircles(repoRoot, sourceFiles(renderer))).toEqual([]);
  });

  it("renderer/src's folders have none: screens import api/, session/ and components/, never each other back", () => {
    expect(folderCircles(rendererSrc, sourceFiles(rendererSrc))).toEqual([]);
  });

  it('the whole repository has none beyond the known ones listed here', () => {
    const found = fileCircles(repoRoot, sourceFiles(repoRoot));
    const key = (files: readonly string[]): string => files.join('\n');
    const known = new Set(KNOWN_CIRCLES.map(key));
    const current = new Set(found.map((circle) => key(circle.files)));
    expect(
      found.filter((circle) => !known.has(key(circle.files))).map((circle) => circle.loop),
      'new import circles (a circle that grew counts as new)',
    ).toEqual([]);
    expect(
      KNOWN_CIRCLES.filter((circle) => !current.has(key(circle))),
      'these known circles are gone or changed: remove them from KNOWN_CIRCLES',
    ).toEqual([]);
  });
});

describe('the import circle check fires (probes in a temporary folder)', () => {
  let probe: string;
  const write = (path: string, text: string): string => {
    const file = join(probe, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };

  beforeAll(() => {
    probe = mkdtempSync(join(tmpdir(), 'halfkey-cycles-'));
  });

  afterAll(() => {
    rmSync(probe, { recursive: true, force: true });
  });

  it('finds a child that imports a type back from its parent (the old Checkout circle)', () => {
    const files = [
      write(
        'types/CheckoutPanel.tsx',
        "import { CheckoutCard } from './CheckoutCard';\nexport type Checkout = { id: string };\nexport const Panel = CheckoutCard;\n",
      ),
      write(
        'types/CheckoutCard.tsx',
        "import type { Checkout } from './CheckoutPanel';\nexport const CheckoutCard = (c: Checkout): string => c.id;\n",
      ),
    ];
    expect(fileCircles(probe, files)).toEqual([
      {
        files: ['types/CheckoutCard.tsx', 'types/CheckoutPanel.tsx'],
        loop: 'types/CheckoutCard.tsx → types/CheckoutPanel.tsx → types/CheckoutCard.tsx',
      },
    ]);
  });

  it('finds a circle through a dynamic import and one through a re-export over three files', () => {
    const files = [
      write('dynamic/loader.ts', "export const load = () => import('./loaded');\n"),
      write('dynamic/loaded.ts', "import { load } from './loader';\nexport const again = load;\n"),
      write('three/a.ts', "export * from './b';\n"),
      write('three/b.ts', "import { c } from './c';\nexport const b = c;\n"),
      write('three/c.ts', "import type { b } from './a';\nexport const c = 1;\nexport type B = typeof b;\n"),
    ];
    expect(fileCircles(probe, files).map((circle) => circle.files)).toEqual([
      ['dynamic/loaded.ts', 'dynamic/loader.ts'],
      ['three/a.ts', 'three/b.ts', 'three/c.ts'],
    ]);
  });

  it('passes a chain without a circle, and a file that imports a package', () => {
    const files = [
      write('chain/one.ts', "import { two } from './two';\nimport { useState } from 'react';\nexport const one = [two, useState];\n"),
      write('chain/two.ts', "import { three } from './three';\nexport const two = three;\n"),
      write('chain/three.ts', 'export const three = 3;\n'),
    ];
    expect(fileCircles(probe, files)).toEqual([]);
  });

  it('finds two folders importing each other even when no file circle exists', () => {
    const src = join(probe, 'src');
    const files = [
      write('src/accounts/List.tsx', "import { Panel } from '../checkout/Panel';\nexport const List = Panel;\n"),
      write('src/checkout/Panel.tsx', 'export const Panel = 1;\n'),
      write('src/checkout/Card.tsx', "import { label } from '../accounts/label';\nexport const Card = label;\n"),
      write('src/accounts/label.ts', "export const label = 'a';\n"),
      write('src/main.tsx', "import { List } from './accounts/List';\nexport const main = List;\n"),
    ];
    expect(fileCircles(probe, files)).toEqual([]);
    expect(folderCircles(src, files)).toEqual([{ folders: ['accounts', 'checkout'], loop: 'accounts → checkout → accounts' }]);
  });
});
