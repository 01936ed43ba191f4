import AxeBuilder from '@axe-core/playwright';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VAULT_FILE } from '../../electron/vault/vault';
import { expect, test } from './fixtures';
import { createVaultThroughUi } from './ui-steps';

// One Argon2id derivation (create).
test.setTimeout(90_000);

const ADMIN = { name: 'Tess Tamper', organisation: 'Acme Ops', passphrase: 'saffron glacier pinwheel 88' };

test('export writes the bundle and CSV; the verify button reports a journal edited behind the app: the failure with its seq, code and reason', async ({
  page,
  preview,
}) => {
  await page.goto(preview.link);
  await createVaultThroughUi(page, ADMIN);

  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Journal' }).click();
  const verify = page.getByRole('region', { name: 'Verification' });
  await verify.getByRole('button', { name: 'Verify journal' }).click();
  await expect(verify).toContainText('Journal verified');
  await expect(verify.getByRole('table', { name: 'Failures' })).toHaveCount(0);

  // Export for reviewers writes the signed bundle and the CSV where asked.
  const exportForm = page.getByRole('region', { name: 'Export for reviewers' });
  const bundle = join(preview.vaultDir, '..', 'journal.hkj');
  const csv = join(preview.vaultDir, '..', 'journal.csv');
  await exportForm.getByLabel('Bundle file (.hkj, absolute path)', { exact: true }).fill('relative.hkj');
  await exportForm.getByRole('button', { name: 'Export' }).click();
  await expect(exportForm.getByRole('alert')).toContainText('absolute path');
  await exportForm.getByLabel('Bundle file (.hkj, absolute path)', { exact: true }).fill(bundle);
  await exportForm.getByLabel('CSV file (optional, .csv)', { exact: true }).fill(csv);
  await exportForm.getByRole('button', { name: 'Export' }).click();
  await expect(exportForm.getByRole('status')).toContainText(`Exported up to #`);
  expect(existsSync(bundle)).toBe(true);
  expect(readFileSync(csv, 'utf8')).toContain('custodian.enrolled');

  // Someone with file access rewrites the admin's enrolment entry (seq 1) in the vault database.
  const db = new Database(join(preview.vaultDir, VAULT_FILE));
  try {
    const changed = db.prepare("UPDATE journal_entries SET type = 'custodian.removed' WHERE seq = 1").run();
    expect(changed.changes).toBe(1);
  } finally {
    db.close();
  }

  await verify.getByRole('button', { name: 'Verify journal' }).click();
  await expect(verify).toContainText('Verification failed');
  const failures = verify.getByRole('table', { name: 'Failures' });
  const first = failures.locator('tbody tr').first();
  await expect(first.locator('td').nth(0)).toHaveText('1');
  await expect(first.locator('td').nth(1)).toHaveText('HASH_MISMATCH');
  await expect(first.locator('td').nth(2)).not.toBeEmpty();
  const journal = page.getByRole('region', { name: 'Journal' });
  await journal.getByRole('button', { name: 'Filter' }).click();
  await expect(journal.getByRole('table', { name: 'Journal entries' })).toContainText('custodian.removed');
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
  await page.screenshot({ path: 'test-results/ui-verify-failed.png', fullPage: true });
});
