import { test as base, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { startPreview } from '../../electron/preview/server';
import { createRouter } from '../../electron/app/router';

/** A preview server on loopback over the real services, with its own fresh vault folder. */
export interface PreviewFixture {
  /** The link `npm start` would print: origin plus the one-time `#token=…`. */
  readonly link: string;
  /** The origin and path without the token. */
  readonly url: string;
  readonly token: string;
  readonly vaultDir: string;
  readonly services: AppServices;
  /** Stops the preview server early (as if `npm start` were interrupted); the page stays open. */
  readonly stop: () => Promise<void>;
}

const rendererDir = fileURLToPath(new URL('../../dist/renderer', import.meta.url));

/**
 * Each test gets its own server and vault: the token is one-time, so a fresh server per test
 * is what a fresh `npm start` gives a person.
 */
export const test = base.extend<{ preview: PreviewFixture }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads fixture dependencies from this pattern; there are none.
  preview: async ({}, use) => {
    const work = mkdtempSync(join(tmpdir(), 'halfkey-e2e-'));
    const vaultDir = join(work, 'vault');
    const services = await openAppServices({ mode: 'preview', vaultDir });
    const server = await startPreview({ router: createRouter(createHandlerTable(services)), rendererDir, host: '127.0.0.1', port: 0 });
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopped ??= server.close());
    try {
      await use({ link: `${server.url}#token=${server.token}`, url: server.url, token: server.token, vaultDir, services, stop });
    } finally {
      await stop();
      await services.close();
      rmSync(work, { recursive: true, force: true });
    }
  },
});

export { expect };
