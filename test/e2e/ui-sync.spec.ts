import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { FastifyInstance } from 'fastify';
import { sodiumReady } from '../../shared/sodium';
import { buildServer } from '../../server/app';
import { serverSigner, type ServerSigner } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { hashToken, newToken } from '../../server/tokens';
import { expect, test } from './fixtures';
import { createVaultThroughUi } from './ui-steps';

// One Argon2id derivation (create), then a real journal server on loopback.
test.setTimeout(90_000);

const ADMIN = { name: 'Sam Sync', organisation: 'Acme Ops', passphrase: 'harbour violet ember lattice 5' };

test('enrol with a journal server, then re-pin its rotated key: a wrong fingerprint is refused, the right one resumes the sync', async ({ page, preview }) => {
  const sodium = await sodiumReady();
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-e2e-sync-'));
  const storage: Storage = await openStorage(`sqlite:${join(dir, 'server.db')}`);
  const serve = async (signer: ServerSigner, port = 0): Promise<{ app: FastifyInstance; url: string; port: number }> => {
    const app = buildServer({ storage, signer, sodium, logger: false, rateLimit: { capacity: 10_000, perSecond: 10_000 } });
    const url = await app.listen({ host: '127.0.0.1', port });
    return { app, url, port: Number(new URL(url).port) };
  };
  const oldKey = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
  const newKey = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
  let server = await serve(oldKey);
  try {
    await page.goto(preview.link);
    await createVaultThroughUi(page, ADMIN);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Sync' }).click();

    const token = newToken(sodium);
    await storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
    const enrol = page.getByRole('region', { name: 'Enrol with a journal server' });
    await enrol.getByLabel('Server URL', { exact: true }).fill(server.url);
    await enrol.getByLabel('Enrolment token', { exact: true }).fill(token);
    await enrol.getByRole('button', { name: 'Enrol' }).click();
    const sync = page.getByRole('region', { name: 'Sync' });
    await expect(sync.getByText(oldKey.fingerprint, { exact: true })).toBeVisible({ timeout: 15_000 });
    await sync.getByRole('button', { name: 'Sync now' }).click();
    await expect(sync.getByText('Up to date')).toBeVisible({ timeout: 15_000 });

    // The operator rotates the server key (same database, same address); meanwhile the app writes
    // its next heartbeat checkpoint, so there is something to upload.
    await server.app.close();
    server = await serve(newKey, server.port);
    preview.services.vault.current()!.journal.checkpoint({ heartbeat: true });
    await expect(async () => {
      await sync.getByRole('button', { name: 'Sync now' }).click();
      await expect(sync.getByText('Sync error')).toBeVisible({ timeout: 2_000 });
    }).toPass({ timeout: 20_000 });

    const repin = page.getByRole('region', { name: 'Server key rotated?' });
    await repin.getByLabel('New server fingerprint', { exact: true }).fill(oldKey.fingerprint);
    await repin.getByRole('button', { name: 'Pin the new key' }).click();
    await expect(page.getByRole('alert')).toContainText('not the one given');
    await expect(sync.getByText(oldKey.fingerprint, { exact: true })).toBeVisible();

    await repin.getByLabel('New server fingerprint', { exact: true }).fill(newKey.fingerprint);
    await repin.getByRole('button', { name: 'Pin the new key' }).click();
    await expect(sync.getByText(newKey.fingerprint, { exact: true })).toBeVisible({ timeout: 15_000 });
    await expect(sync.getByText('Up to date')).toBeVisible({ timeout: 15_000 });
    await expect(repin.getByLabel('New server fingerprint', { exact: true })).toHaveValue('');

    const results = await new AxeBuilder({ page }).analyze();
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    await page.screenshot({ path: 'test-results/ui-sync-repin.png', fullPage: true });
  } finally {
    await server.app.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
