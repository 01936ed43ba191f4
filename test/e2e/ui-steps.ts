import type { Locator, Page } from '@playwright/test';
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

/** Unlocks a custodian from the Custodians list with a passphrase (right or wrong); returns their row. */
export async function unlockThroughUi(page: Page, who: { readonly name: string; readonly passphrase: string }): Promise<Locator> {
  const row = page.getByRole('listitem').filter({ hasText: who.name });
  await row.getByRole('button', { name: `Unlock ${who.name}…` }).click();
  const form = page.getByRole('form', { name: `Unlock ${who.name}` });
  await form.getByLabel(`Passphrase for ${who.name}`, { exact: true }).fill(who.passphrase);
  await form.getByRole('button', { name: 'Unlock' }).click();
  return row;
}

/** Enrols a custodian through the admin's "Enrol a custodian" form, until the page confirms it; returns the form. */
export async function enrolThroughUi(page: Page, who: Person, role: string): Promise<Locator> {
  const enrol = page.getByRole('region', { name: 'Enrol a custodian' });
  await enrol.getByLabel('Name', { exact: true }).fill(who.name);
  await enrol.getByLabel('Organisation', { exact: true }).fill(who.organisation);
  await enrol.getByLabel('Role', { exact: true }).selectOption({ label: role });
  await enrol.getByLabel('Their passphrase', { exact: true }).fill(who.passphrase);
  await enrol.getByRole('button', { name: 'Enrol custodian' }).click();
  await expect(enrol.getByRole('status')).toContainText(`Enrolled ${who.name}`, { timeout: 20_000 });
  return enrol;
}

/** Assigns an item of the open account to a custodian (enrolled with `role`), until the page confirms it; returns the form. */
export async function assignThroughUi(page: Page, item: 'password' | 'mfa', who: Person, role: string): Promise<Locator> {
  const assign = page.getByRole('region', { name: 'Assign a custody item' });
  await assign.getByLabel('Item', { exact: true }).selectOption(item);
  await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${who.name} — ${role}, ${who.organisation}` });
  await assign.getByRole('button', { name: 'Assign' }).click();
  await expect(assign.getByRole('status')).toContainText(`Assigned the ${item} item to ${who.name}`);
  return assign;
}
