import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { sodiumReady } from '../../shared/sodium';
import { gzippedCopy, INPUTS } from '../fixtures/cloudtrail/expected-findings';
import { fixtureJournal, writeFixtureBundle } from '../fixtures/cloudtrail/fixture-journal';
import { seededSigner } from '../support/journal-builder';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { enrolledClient, grantReviewer, reviewerExport } from '../support/sync-fixture';
import { expect, test } from './fixtures';

// The reviewer screen against the committed CloudTrail fixture, laid out and gzipped as a trail
// writes it to S3 (with lookup-events output and malformed files beside it), and two real
// journals built as the reconcile integration tests build theirs: the fixture's custody exported
// as a signed device bundle, and the same custody synced to a real journal server and downloaded
// as the org-wide reviewer export. No vault is created: reconciliation reads files and needs none.

const HALF_EXPLAINED = '5e1c0a7e-0005-4c1e-9d2a-000000000005';
const UNEXPLAINED = ['5e1c0a7e-0008-4c1e-9d2a-000000000008', '5e1c0a7e-0012-4c1e-9d2a-000000000012'];
const REVIEWER_SEED = 0x52;

// Building both journals and a server sync runs before the first test.
test.setTimeout(60_000);

let work: string;
let server: TestServer;

test.beforeAll(async () => {
  await sodiumReady();
  work = mkdtempSync(join(tmpdir(), 'halfkey-e2e-reconcile-'));
  gzippedCopy(work);
  writeFixtureBundle(join(work, 'journal.hkj'));
  // The org-wide export: the same custody, synced by its device to a real server, exported by a granted reviewer.
  server = await startTestServer('sqlite');
  const journal = fixtureJournal();
  try {
    journal.enrol('rita', REVIEWER_SEED, { name: 'Rita Reviewer', role: 'reviewer' });
    await grantReviewer(server, seededSigner(REVIEWER_SEED).publicKey, 'Rita');
    await (await enrolledClient(server, journal)).syncNow();
    writeFileSync(join(work, 'org.hkx'), await reviewerExport(server, seededSigner(REVIEWER_SEED)));
  } finally {
    journal.close();
  }
});
test.afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Opens the Reconcile screen from the navigation, with no vault on this machine. */
async function openReconcile(page: Page, link: string): Promise<Locator> {
  await page.goto(link);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Reconcile' }).click();
  await expect(page.getByRole('heading', { name: 'Reconcile with CloudTrail' })).toBeFocused();
  return page.getByRole('form', { name: 'What to reconcile' });
}

/** The fixture's inputs as a reviewer pastes them: one absolute path a line. */
const inputs = (): string => `${INPUTS.map((input) => join(work, input)).join('\n')}\n`;

test('a reviewer reconciles S3-delivered logs against a device bundle: readable errors, verdict, counts, findings, CSV', async ({
  page,
  preview,
}) => {
  const form = await openReconcile(page, preview.link);
  const journalPath = form.getByLabel('Journal bundle (absolute path)', { exact: true });
  const paths = form.getByLabel('CloudTrail logs', { exact: true });
  const csvPath = form.getByLabel('CSV file (optional, .csv)', { exact: true });
  const run = form.getByRole('button', { name: 'Reconcile' });

  // A relative path is caught in the page, on the line it is on.
  await journalPath.fill(join(work, 'journal.hkj'));
  await paths.fill(`${join(work, 'logs')}\nlookup\n`);
  await run.click();
  await expect(form.getByRole('alert')).toHaveText('Check the field marked below.');
  await expect(paths).toHaveAttribute('aria-invalid', 'true');
  await expect(form).toContainText('Line 2 ("lookup") is not an absolute path.');

  // A path that does not exist: the service's own sentence, and the field marked.
  const missing = join(work, 'no-such-journal.hkj');
  await journalPath.fill(missing);
  await paths.fill(inputs());
  await run.click();
  await expect(form.getByRole('alert')).toContainText(`NOT_FOUND There is no journal file at ${missing}.`);
  await expect(journalPath).toHaveAttribute('aria-invalid', 'true');

  // The router's refusal names its schema field (csv); the page says it as the label typed into.
  await journalPath.fill(join(work, 'journal.hkj'));
  await csvPath.fill(join(work, 'findings.txt'));
  await run.click();
  await expect(form.getByRole('alert')).toHaveText('INVALID_PAYLOAD CSV file: must end with .csv.');
  await expect(csvPath).toHaveAttribute('aria-invalid', 'true');

  const csv = join(work, 'findings.csv');
  await csvPath.fill(csv);
  await run.click();
  await expect(form.getByRole('status')).toHaveText('Reconciled. 4 root actions not explained (2 half-explained, 2 unexplained).', {
    timeout: 20_000,
  });
  await expect(form.getByRole('alert')).toHaveCount(0);

  const report = page.getByRole('region', { name: 'Reconciliation report' });
  await expect(report.getByRole('heading', { name: 'Reconciliation report' })).toBeFocused();
  await expect(report).toContainText('4 root actions not explained (2 half-explained, 2 unexplained).');
  await expect(report).toContainText(`CSV written to ${csv}`);
  // The counts, as expected.json works them out by hand for these inputs.
  const counts = report.locator('dl.facts');
  await expect(counts).toContainText('Files14 (10 read, 2 bad, 2 ignored of which 1 digest)');
  await expect(counts).toContainText('Records32');
  await expect(counts).toContainText('Root records18 (17 distinct, 1 duplicate)');
  await expect(counts).toContainText('Skipped records6');
  const skipped = report.getByRole('table', { name: 'Skipped records by reason' });
  await expect(skipped.locator('tbody tr')).toHaveCount(6);
  await expect(skipped).toContainText('ACCOUNT_NOT_IN_VAULT');

  // Groups, most serious first.
  const groups = report.getByRole('heading', { level: 3 });
  await expect(groups).toHaveText([
    'Half-explained root actions (2)',
    'Unexplained root actions (2)',
    'Flagged root actions (1)',
    'Failed root sign-ins (2)',
    'Checkouts with no root activity (1)',
    'Password rotations not seen at AWS (1)',
    'Explained root actions (9)',
    'Files and records not used (10)',
  ]);
  // Half-explained: only Pat's password checkout C was out; the nearest MFA checkout is Mia's B.
  const half = report.getByRole('table', { name: 'Half-explained root actions' }).locator('tbody tr').filter({ hasText: HALF_EXPLAINED });
  await expect(half).toContainText('2026-01-02T14:20:00Z');
  await expect(half).toContainText('ConsoleLogin');
  await expect(half).toContainText('111111111111');
  await expect(half.locator('td').nth(4)).not.toHaveText('—');
  await expect(half.locator('td').nth(5)).not.toHaveText('—');
  await expect(half).toContainText(/Password out: seq \d+ · password · Pat Password — “billing contact fix”/);
  await expect(half).toContainText(/Nearest of the missing half: seq \d+ · mfa · Mia MFA — “quarterly root check”.*4 h 30 min away/);
  // Unexplained: no half out; the long-term root key is flagged; the nearest checkout is Max's D.
  const unexplained = report.getByRole('table', { name: 'Unexplained root actions' }).locator('tbody tr');
  await expect(unexplained.locator('td:first-child')).toHaveText(UNEXPLAINED);
  await expect(unexplained.nth(1)).toContainText('ROOT_ACCESS_KEY_USED');
  await expect(unexplained.nth(1)).toContainText(/Nearest: seq \d+ · mfa · Max MFA — “replace MFA device” \[CHG-1002\].*1 h 20 min away/);

  expect(existsSync(csv)).toBe(true);
  const rows = readFileSync(csv, 'utf8');
  for (const id of [HALF_EXPLAINED, ...UNEXPLAINED]) expect(rows).toContain(id);

  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
  await page.screenshot({ path: 'test-results/ui-reconcile.png', fullPage: true });
});

test('the same logs against the org-wide reviewer export, checked against the pinned server key', async ({ page, preview }) => {
  const form = await openReconcile(page, preview.link);
  await form.getByLabel("The server's org-wide export", { exact: false }).check();
  await form.getByLabel('Export file (absolute path)', { exact: true }).fill(join(work, 'org.hkx'));
  await form.getByLabel('CloudTrail logs', { exact: true }).fill(inputs());
  const run = form.getByRole('button', { name: 'Reconcile' });

  // No key: caught in the page. A wrong key: the export does not verify, and nothing is reconciled.
  await run.click();
  await expect(form.getByLabel('Server key', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await form.getByLabel('Server key', { exact: true }).fill('ab'.repeat(32));
  await run.click();
  await expect(form.getByRole('alert')).toContainText(/JOURNAL_INVALID The journal .*org\.hkx does not verify .*SERVER_KEY_MISMATCH/);
  await expect(page.getByRole('region', { name: 'Reconciliation report' })).toHaveCount(0);

  // The key as an operator publishes it: upper case, in groups.
  await form.getByLabel('Server key', { exact: true }).fill(server.signer.publicKey.toUpperCase().replace(/(.{8})/g, '$1 '));
  await run.click();
  await expect(form.getByRole('status')).toHaveText('Reconciled. 4 root actions not explained (2 half-explained, 2 unexplained).', {
    timeout: 20_000,
  });
  const report = page.getByRole('region', { name: 'Reconciliation report' });
  await expect(report).toContainText(`Journal verified: the server export ${join(work, 'org.hkx')}`);
  await expect(report).toContainText('from 1 device');
  await expect(report.getByRole('table', { name: 'Half-explained root actions' })).toContainText(HALF_EXPLAINED);
  await expect(report.getByRole('table', { name: 'Unexplained root actions' }).locator('tbody tr td:first-child')).toHaveText(UNEXPLAINED);
});
