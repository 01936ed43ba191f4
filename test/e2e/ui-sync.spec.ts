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

test('enrol with a journal server (a wrong expected fingerprint is refused, the right one enrols), then re-pin its rotated key: a wrong fingerprint is refused, the right one resumes the sync', async ({
  page,
  preview,
}) => {
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
    const sync = page.getByRole('region', { name: 'Sync' });
    const expected = enrol.getByLabel('Server fingerprint (from your administrator)', { exact: true });
    await expect(expected).toHaveAccessibleDescription(/Optional/);
    // What the server publishes, as an administrator would copy it: /v1/server-key's fingerprint, which the app displays once pinned.
    const published = ((await (await fetch(`${server.url}/v1/server-key`)).json()) as { serverFingerprint: string }).serverFingerprint;
    expect(published).toBe(oldKey.fingerprint);

    // A fingerprint that is not the server's: refused before the token is sent, nothing pinned.
    await enrol.getByLabel('Server URL', { exact: true }).fill(server.url);
    await enrol.getByLabel('Enrolment token', { exact: true }).fill(token);
    await expected.fill(newKey.fingerprint);
    await enrol.getByRole('button', { name: 'Enrol' }).click();
    const refusal = enrol.getByRole('alert');
    await expect(refusal).toContainText('POLICY_REFUSED');
    await expect(refusal).toContainText(
      `The server presents a key with fingerprint ${oldKey.fingerprint}, not the one given (${newKey.fingerprint}): nothing was enrolled or pinned.`,
    );
    await expect(refusal).not.toContainText(token);
    await expect(sync.getByText('Not enrolled with a journal server')).toBeVisible();
    await expect(sync.getByText('no server pinned', { exact: true })).toBeVisible();
    expect(preview.services.sync.status().state).toBe('not-enrolled');
    // The poll (every 3 s) does not wipe the refusal.
    await page.waitForTimeout(3_500);
    await expect(refusal).toBeVisible();
    const formAxe = await new AxeBuilder({ page }).analyze();
    expect(formAxe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);

    // The published fingerprint, typed as a person might (upper case, spaces): enrols with the same, still unused, token.
    await enrol.getByLabel('Enrolment token', { exact: true }).fill(token);
    await expected.fill(` ${published.toUpperCase()} `);
    await enrol.getByRole('button', { name: 'Enrol' }).click();
    await expect(sync.getByText(oldKey.fingerprint, { exact: true })).toBeVisible({ timeout: 15_000 });
    await expect(page.getByRole('alert')).toHaveCount(0);
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
