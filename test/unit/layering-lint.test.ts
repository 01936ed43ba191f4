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
    await expectLayerError('shared/journal/layer-probe.ts', "import fs from 'node:fs';\nexport const read = fs.readFileSync;\n", 'shared/ is pure');
  });

  it('refuses electron in renderer/', async () => {
    await expectLayerError('renderer/src/layer-probe.ts', "import { ipcRenderer } from 'electron';\nexport const r = ipcRenderer;\n", 'renderer/ talks only to window.halfkey');
  });

  it('refuses an import of electron/ code from renderer/', async () => {
    await expectLayerError('renderer/src/layer-probe.ts', "import '../../electron/router';\n", 'renderer/ talks only to window.halfkey');
  });

  it('refuses electron in server/', async () => {
    await expectLayerError('server/layer-probe.ts', "import { app } from 'electron';\nexport const a = app;\n", 'server/ runs without Electron');
  });

  it('refuses an import of electron/ code from server/', async () => {
    await expectLayerError('server/layer-probe.ts', "import { createRouter } from '../electron/router';\nexport const r = createRouter;\n", 'server/ runs without Electron');
  });

  it('refuses shared/node/ (Node-only) from pure shared/ and from renderer/', async () => {
    await expectLayerError('shared/journal/layer-probe.ts', "import { nativePrimitives } from '../node/journal-primitives';\nexport const p = nativePrimitives;\n", 'shared/ is pure');
    await expectLayerError('renderer/src/layer-probe.ts', "import { nativePrimitives } from '../../shared/node/journal-primitives';\nexport const p = nativePrimitives;\n", 'renderer/ talks only to window.halfkey');
  });

  it('lets shared/node/ use node:crypto and Buffer, and nothing else of Node', async () => {
    expect(await lint('shared/node/layer-probe.ts', "import { hash } from 'node:crypto';\nexport const h = (b: Uint8Array): Buffer => hash('sha256', b, 'buffer');\n")).toEqual([]);
    await expectLayerError('shared/node/layer-probe.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", 'shared/node/ may use node:crypto only');
    await expectLayerError('shared/node/layer-probe.ts', "import { app } from 'electron';\nexport const a = app;\n", 'shared/node/ may use node:crypto only');
  });

  it('passes clean files in every layer', async () => {
    expect(await lint('shared/journal/layer-probe.ts', "import { z } from 'zod';\nexport const id = z.string();\n")).toEqual([]);
    expect(await lint('renderer/src/layer-probe.ts', "import type { HalfkeyApi } from '../../shared/api/bridge';\nexport type Api = HalfkeyApi;\n")).toEqual([]);
    expect(await lint('server/layer-probe.ts', "import { createServer } from 'node:http';\nexport const s = createServer;\n")).toEqual([]);
  });
});
