import { fileURLToPath } from 'node:url';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter } from '../../electron/app/router';
import { startPreview } from '../../electron/preview/server';
import { openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';
import { enrolCustodian } from '../support/roster';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { grantReviewer, issueToken } from '../support/sync-fixture';
import { expect, test } from './fixtures';
import { nav, noSeriousAxeViolations, unlock } from './ui-steps';

// The reviewer screen in real Chromium through the preview adapter, over a real vault and a real
// journal server on loopback: a break-glass session run and synced beforehand (through the router),
// then Rita, a reviewer the server's operator granted, unlocks in the page, sees the incident
// verified with the entries behind it, and acknowledges it.
test.setTimeout(240_000);

const RITA = { name: 'Rita Reviewer', passphrase: 'lattice pepper orbit canyon 52' };
const rendererDir = fileURLToPath(new URL('../../dist/renderer', import.meta.url));

test('a reviewer lists a verified break-glass incident with its entries and acknowledges it with a signed review', async ({ page }) => {
  let f: CustodyFixture | null = null;
  let server: TestServer | null = null;
  let services: AppServices | null = null;
  let preview: { url: string; token: string; close(): Promise<void> } | null = null;
  try {
    f = await openCustodyFixture({ only: ['pat', 'mia'] });
    const account = await f.fullAccount();
    const pat = { id: f.ids.pat, passphrase: PASSPHRASES.pat };
    const rita = await enrolCustodian(
      f.vault,
      { id: f.ids.admin, passphrase: PASSPHRASES.admin },
      { name: RITA.name, organisation: 'Customer', role: 'reviewer', passphrase: RITA.passphrase },
      pat,
    );
    await f.custody.close();
    f.vault.close();

    server = await startTestServer('sqlite');
    services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
    const router = createRouter(createHandlerTable(services));
    const call = async (channel: string, payload: unknown): Promise<Record<string, unknown>> => {
      const result = await router.call(channel, payload, { adapter: 'test' });
      if (!result.ok) throw new Error(`${channel}: ${result.error.code} ${result.error.message}`);
      return result.value as Record<string, unknown>;
    };
    await call('vault:open', {});
    await call('sync:enrol', { url: server.url, token: await issueToken(server) });
    await call('custodian:unlock', { custodianId: f.ids.pat, passphrase: PASSPHRASES.pat });
    const { sessionId } = await call('break-glass:open', {
      by: f.ids.pat,
      accountId: account,
      incident: { reference: 'INC-77', reason: 'identity provider lost', severity: 'high' },
    });
    await call('break-glass:use-password', { by: f.ids.pat, sessionId, seconds: 10 });
    await call('custodian:unlock', { custodianId: f.ids.mia, passphrase: PASSPHRASES.mia });
    await call('break-glass:use-mfa', { by: f.ids.mia, sessionId });
    await call('break-glass:close', { by: f.ids.mia, sessionId, outcome: 'resolved', note: 'admin role restored' });
    await call('custodian:lock', { custodianId: f.ids.mia });
    await call('sync:now', {});
    await grantReviewer(server, rita.signingKey, RITA.name);

    preview = await startPreview({ router, rendererDir, host: '127.0.0.1', port: 0 });
    await page.goto(`${preview.url}#token=${preview.token}`);
    await nav(page, 'Custodians');
    await unlock(page, RITA);
    await expect(page.getByRole('banner')).toContainText(`Acting as ${RITA.name}`, { timeout: 20_000 });

    await nav(page, 'Review');
    const incidents = page.getByRole('list', { name: 'Incidents' });
    const item = incidents.getByRole('listitem').filter({ has: page.getByRole('heading', { name: /Incident INC-77/ }) });
    await expect(item.getByRole('heading', { name: 'Incident INC-77 (high) Verified' })).toBeVisible({ timeout: 30_000 });
    const entries = item.getByRole('table', { name: 'Signed entries behind this incident' });
    await expect(entries.getByRole('row', { name: /break-glass\.password-used pat password/ })).toBeVisible();
    await expect(entries.getByRole('row', { name: /break-glass\.mfa-used mia MFA/ })).toBeVisible();
    await expect(entries.getByRole('row', { name: /break-glass\.opened pat .* identity provider lost/ })).toBeVisible();
    await expect(entries.getByText('Failed')).toHaveCount(0);
    await noSeriousAxeViolations(page, 'review queue');

    const form = item.getByRole('form', { name: 'Acknowledge this incident' });
    await form.getByLabel('Finding', { exact: true }).selectOption('authorised');
    await form.getByLabel('Both halves rotated since', { exact: true }).selectOption('no');
    await form.getByLabel('Review notes', { exact: true }).fill('Checked INC-77 with both custodians');
    await form.getByRole('button', { name: 'Sign and acknowledge' }).click();
    // Acknowledged: it leaves the open queue.
    await expect(page.getByText('No open incidents.')).toBeVisible({ timeout: 30_000 });

    await page.getByLabel('Show', { exact: true }).selectOption('all');
    const done = page.getByRole('list', { name: 'Incidents' }).getByRole('listitem');
    await expect(done.getByText(`Acknowledged by ${RITA.name}`)).toContainText('verified', { timeout: 30_000 });
    await expect(done.getByText(`Acknowledged by ${RITA.name}`)).toBeVisible({ timeout: 30_000 });
    await expect(done.getByText('Checked INC-77 with both custodians')).toBeVisible();
    await expect(done.getByText('Failed')).toHaveCount(0);
    await noSeriousAxeViolations(page, 'review, acknowledged');
  } finally {
    await preview?.close();
    await services?.close();
    await server?.close();
    await f?.close();
  }
});
