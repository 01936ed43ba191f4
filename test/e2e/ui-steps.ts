import type { Page } from '@playwright/test';
import { expect } from './fixtures';

/** A custodian as the specs type them in. */
export interface Person {
  readonly name: string;
  readonly organisation: string;
  readonly passphrase: string;
}

/**
 * Creates the vault through the first-run screen, confirms the recovery key as stored, and
 * returns the key as it was shown (one Argon2id derivation). Ends on the Custodians screen.
 */
export async function createVaultThroughUi(page: Page, admin: Person): Promise<string> {
  const setup = page.getByRole('region', { name: 'Create the vault' });
  await setup.getByLabel('Admin name', { exact: true }).fill(admin.name);
  await setup.getByLabel('Organisation', { exact: true }).fill(admin.organisation);
  await setup.getByLabel('Passphrase', { exact: true }).fill(admin.passphrase);
  await setup.getByLabel('Confirm passphrase', { exact: true }).fill(admin.passphrase);
  await setup.getByRole('button', { name: 'Create vault' }).click();
  const card = page.getByRole('region', { name: 'Recovery key — shown once' });
  const key = (await card.getByLabel('Recovery key', { exact: true }).innerText({ timeout: 30_000 })).trim();
  await card.getByLabel('I have stored the recovery key offline', { exact: true }).check();
  await card.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('listitem').filter({ hasText: admin.name })).toBeVisible();
  return key;
}
