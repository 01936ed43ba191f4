import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The reconciliation's two folders keep to their layers (STYLE.md rule 1): the pure core imports
// no Node, the feature folder no Electron and no adapter.

const eslint = new ESLint({ cwd: fileURLToPath(new URL('../..', import.meta.url)) });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' && m.severity === 2).map((m) => m.message);
}

describe('the reconciliation layers', () => {
  it('refuses node built-ins in shared/reconcile', async () => {
    expect(
      await restricted('shared/reconcile/layer-probe.ts', "import { gunzipSync } from 'node:zlib';\nexport const g = gunzipSync;\n"),
    ).toEqual([expect.stringContaining('shared/ is pure')]);
  });

  it('refuses electron and adapters in electron/reconcile, and allows the router type', async () => {
    expect(
      (await restricted('electron/reconcile/layer-probe.ts', "import { app } from 'electron';\nexport const a = app;\n")).length,
    ).toBeGreaterThan(0);
    expect(await restricted('electron/reconcile/layer-probe.ts', "import '../cli/main';\n")).toEqual([
      expect.stringContaining('knows no adapter'),
    ]);
    expect(await restricted('electron/reconcile/layer-probe.ts', "import '../app/app-services';\n")).toEqual([
      expect.stringContaining('knows no adapter'),
    ]);
    expect(
      await restricted(
        'electron/reconcile/layer-probe.ts',
        "import type { Handler } from '../app/router';\nexport type H = Handler<'reconcile:run'>;\n",
      ),
    ).toEqual([]);
  });
});
