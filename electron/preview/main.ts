/**
 * The `npm start` fallback where no Electron binary is installed: the real services and router,
 * served to Chromium by the preview adapter. Run with `node --import tsx electron/preview/main.ts`.
 */
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createHandlerTable } from '../app/handlers';
import { openAppServices } from '../app/app-services';
import { createRouter } from '../app/router';
import { startPreview } from './server';

/** Parses `--vault DIR` (else HALFKEY_VAULT_DIR, else ~/.halfkey-preview/vault) and `--port N`. */
export function previewOptions(argv: readonly string[], env: NodeJS.ProcessEnv): { vaultDir: string; port: number } {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: { vault: { type: 'string' }, port: { type: 'string' } },
  });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number (0–65535), not "${values.port}"`);
  const vaultDir = resolve(values.vault ?? env.HALFKEY_VAULT_DIR ?? join(homedir(), '.halfkey-preview', 'vault'));
  return { vaultDir, port };
}

async function main(): Promise<void> {
  const { vaultDir, port } = previewOptions(process.argv.slice(2), process.env);
  const services = await openAppServices({ mode: 'preview', vaultDir });
  // Failures are logged by code and channel only: payloads may carry passphrases.
  const router = createRouter(createHandlerTable(services), (e) => process.stderr.write(`halfkey preview: ${e.channel} → ${e.code}\n`));
  const rendererDir = fileURLToPath(new URL('../../dist/renderer', import.meta.url));
  const preview = await startPreview({ router, rendererDir, host: '127.0.0.1', port });
  const stop = (): void => {
    preview
      .close()
      .then(() => services.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`halfkey preview: closing failed: ${error instanceof Error ? error.message : String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Printed last: whoever reads the link may stop us at once, and the handlers must be in place.
  process.stdout.write(
    `Halfkey preview (no Electron binary installed here): open ${preview.url}#token=${preview.token} in Chromium — the token works for one page load only (vault: ${vaultDir}).\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`halfkey preview: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
