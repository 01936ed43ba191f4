import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd });

/** Lints `code` as if it were the file at `filePath` (nothing is written) and returns its messages. */
async function lint(filePath: string, code: string): Promise<readonly { ruleId: string | null; severity: number; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath });
  if (!result) throw new Error(`ESLint returned no result for ${filePath}`);
  return result.messages;
}

async function expectLayerError(filePath: string, code: string, layer: string): Promise<void> {
  const messages = await lint(filePath, code);
  const restricted = messages.filter((m) => m.ruleId === 'no-restricted-imports');
  // A bare 'electron' matches both the forbidden paths and the forbidden patterns: one or two reports.
  expect(restricted.length, `${filePath}: ${JSON.stringify(messages)}`).toBeGreaterThan(0);
  for (const message of restricted) {
    expect(message.severity).toBe(2);
    expect(message.message).toContain(layer);
  }
}

describe('the layering lint (STYLE.md rule 1)', () => {
  it('refuses a node built-in in shared/', async () => {
    await expectLayerError(
      'shared/journal/layer-probe.ts',
      "import fs from 'node:fs';\nexport const read = fs.readFileSync;\n",
      'shared/ is pure',
    );
  });

  it('refuses electron in renderer/', async () => {
    await expectLayerError(
      'renderer/src/layer-probe.ts',
      "import { ipcRenderer } from 'electron';\nexport const r = ipcRenderer;\n",
      'renderer/ talks only to window.halfkey',
    );
  });

  it('refuses an import of electron/ code from renderer/', async () => {
    await expectLayerError(
      'renderer/src/layer-probe.ts',
      "import '../../electron/app/router';\n",
      'renderer/ talks only to window.halfkey',
    );
  });

  it('refuses electron in server/', async () => {
    await expectLayerError(
      'server/layer-probe.ts',
      "import { app } from 'electron';\nexport const a = app;\n",
      'server/ runs without Electron',
    );
  });

  it('refuses an import of electron/ code from server/', async () => {
    await expectLayerError(
      'server/layer-probe.ts',
      "import { createRouter } from '../electron/app/router';\nexport const r = createRouter;\n",
      'server/ runs without Electron',
    );
  });

  it('refuses node:crypto in shared/: the Node side injects it (shared/journal/host-crypto.ts)', async () => {
    await expectLayerError(
      'shared/journal/layer-probe.ts',
      "import { hash } from 'node:crypto';\nexport const h = hash;\n",
      'shared/ is pure',
    );
  });

  it('refuses electron in the Node-only folders of electron/ (features, app, cli, preview)', async () => {
    for (const folder of ['app', 'base', 'custody', 'journal', 'keychain', 'review', 'sync', 'vault', 'cli', 'preview']) {
      await expectLayerError(
        `electron/${folder}/layer-probe.ts`,
        "import { clipboard } from 'electron';\nexport const c = clipboard;\n",
        'Node-only',
      );
    }
  });

  it('refuses an adapter import from a feature folder (only electron/app composes features)', async () => {
    await expectLayerError('electron/custody/layer-probe.ts', "import '../main/main';\n", 'knows no adapter');
    await expectLayerError('electron/vault/layer-probe.ts', "import '../cli/main';\n", 'knows no adapter');
    await expectLayerError('electron/journal/layer-probe.ts', "import '../app/app-services';\n", 'knows no adapter');
    await expectLayerError('electron/sync/layer-probe.ts', "import '../preview/server';\n", 'knows no adapter');
  });

  it('refuses the preview adapter and the CLI in electron/main/ (what ships)', async () => {
    await expectLayerError('electron/main/layer-probe.ts', "import '../preview/server';\n", 'electron/main/ is what ships');
    await expectLayerError('electron/main/layer-probe.ts', "import '../cli/main';\n", 'electron/main/ is what ships');
  });

  it('refuses a feature folder, a database or keychain driver and the server internals in electron/cli/: the CLI reaches a vault through the router', async () => {
    const refusedInCli = async (code: string, rule: 'no-restricted-imports' | 'no-restricted-syntax'): Promise<void> => {
      const messages = await lint('electron/cli/layer-probe.ts', code);
      const refused = messages.filter((m) => m.ruleId === rule);
      expect(refused.length, `${code}: ${JSON.stringify(messages)}`).toBeGreaterThan(0);
      for (const m of refused) {
        expect(m.severity).toBe(2);
        expect(m.message).toContain('electron/cli/ is a Node-only adapter over the router');
      }
    };
    for (const feature of [
      'vault/vault',
      'custody/custody-service',
      'journal/store',
      'sync/client',
      'keychain/keytar-keychain',
      'base/database',
      'review/review-service',
    ]) {
      await refusedInCli(`import '../${feature}';\n`, 'no-restricted-imports');
      // A dynamic import() is no escape hatch.
      await refusedInCli(`export const load = () => import('../${feature}');\n`, 'no-restricted-syntax');
    }
    await refusedInCli("import Database from 'better-sqlite3';\nexport const d = Database;\n", 'no-restricted-imports');
    await refusedInCli("export const load = () => import('keytar');\n", 'no-restricted-syntax');
    await refusedInCli("import '../../server/storage/storage';\n", 'no-restricted-imports');
  });

  it('lets electron/cli/ import the router side (../app/), shared/, server/cli, node built-ins, and the file verifiers of journal verify', async () => {
    const clean = [
      "import { createRouter } from '../app/router';\nexport const r = createRouter;\n",
      "export const load = () => import('../app/app-services');\n",
      "import { canonicalize } from '../../shared/journal/canonical';\nexport const c = canonicalize;\n",
      "export const load = () => import('../../server/cli');\n",
      "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
      "export const load = () => Promise.all([import('../journal/bundle-file'), import('../journal/parallel-verify'), import('../sync/server-export-file')]);\n",
    ];
    for (const code of clean) expect(await lint('electron/cli/layer-probe.ts', code), code).toEqual([]);
  });

  it('refuses node and services in the page code of the preview and in the preload', async () => {
    await expectLayerError('electron/preview/page/layer-probe.ts', "import fs from 'node:fs';\nexport const f = fs;\n", 'runs in the page');
    await expectLayerError('electron/preview/page/layer-probe.ts', "import '../../app/router';\n", 'runs in the page');
    await expectLayerError(
      'electron/preload/layer-probe.ts',
      "import '../custody/custody-service';\n",
      'The preload exposes window.halfkey only',
    );
  });

  it('passes clean files in every layer', async () => {
    expect(await lint('electron/main/layer-probe.ts', "import { app } from 'electron';\nexport const a = app;\n")).toEqual([]);
    expect(
      await lint(
        'electron/custody/layer-probe.ts',
        "import type { Handler } from '../app/router';\nimport { readFileSync } from 'node:fs';\nexport type H = Handler<'custody:checkout'>;\nexport const r = readFileSync;\n",
      ),
    ).toEqual([]);
    expect(
      await lint('electron/preload/layer-probe.ts', "import { contextBridge } from 'electron';\nexport const c = contextBridge;\n"),
    ).toEqual([]);
    expect(await lint('shared/journal/layer-probe.ts', "import { z } from 'zod';\nexport const id = z.string();\n")).toEqual([]);
    expect(
      await lint(
        'renderer/src/layer-probe.ts',
        "import type { HalfkeyApi } from '../../shared/api/bridge';\nexport type Api = HalfkeyApi;\n",
      ),
    ).toEqual([]);
    expect(await lint('server/layer-probe.ts', "import { createServer } from 'node:http';\nexport const s = createServer;\n")).toEqual([]);
  });
});
