import type { Locator, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { expect } from './fixtures';
import { approveOnProposals, nav, proposalsOutcome, type Person } from './ui-steps';

// Steps of the custody specs (ui-custody, ui-custody-state): accounts, checkouts and TOTP codes.

/** An AWS account as the specs type it into "Add an account". */
export interface TestAccount {
  readonly id: string;
  readonly alias: string;
  readonly email: string;
}

/** RFC 6238 codes from oathtool, independent of Halfkey and otplib: the current step and `extra` following ones. */
export function oathtoolCodes(seed: string, extra = 0): string[] {
  return execFileSync('oathtool', ['--totp', '-w', String(extra), '-b', seed], { encoding: 'utf8' })
    .trim()
    .split('\n');
}

/** Reads the code on screen until it equals oathtool's current code (a period may roll over between the two reads). */
export async function expectCodeMatches(code: Locator, seed: string): Promise<void> {
  let matched = false;
  for (let attempt = 0; attempt < 3 && !matched; attempt += 1) {
    const shown = (await code.locator('code').innerText()).replace(/\s/g, '');
    matched = shown === oathtoolCodes(seed)[0];
    if (!matched) await code.page().waitForTimeout(1500);
  }
  expect(matched).toBe(true);
}

/** Opens an account's page from the Accounts list; focus lands on its heading. */
export async function openAccount(page: Page, account: TestAccount): Promise<void> {
  await nav(page, 'Accounts');
  await page.getByRole('button', { name: `Open ${account.alias}` }).click();
  await expect(page.getByRole('heading', { name: new RegExp(account.alias), level: 2 })).toBeFocused();
}

/**
 * The acting admin adds `account` under Accounts and proposes each half to its custodian; each
 * assignment is approved by the other custodian with their own passphrase (they become the actor).
 */
export async function addAccountWithHalves(
  page: Page,
  account: TestAccount,
  password: { readonly who: Person; readonly role: string },
  mfa: { readonly who: Person; readonly role: string },
): Promise<void> {
  await nav(page, 'Accounts');
  const add = page.getByRole('region', { name: 'Add an account' });
  await add.getByLabel('AWS account id', { exact: true }).fill(account.id);
  await add.getByLabel('Alias', { exact: true }).fill(account.alias);
  await add.getByLabel('Root e-mail', { exact: true }).fill(account.email);
  await add.getByRole('button', { name: 'Add account' }).click();
  await expect(add.getByRole('status')).toContainText(`Added account ${account.id}`);
  await openAccount(page, account);
  const assign = page.getByRole('region', { name: 'Assign a custody item' });
  for (const [item, { who, role }] of [
    ['password', password],
    ['mfa', mfa],
  ] as const) {
    await assign.getByLabel('Item', { exact: true }).selectOption(item);
    await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${who.name} — ${role}, ${who.organisation}` });
    await assign.getByRole('button', { name: 'Propose assignment' }).click();
    await expect(assign.getByRole('status')).toContainText('Proposed: Assign');
  }
  const half = (item: string, who: string): string => `Assign the ${item} half of account ${account.id} to ${who}`;
  await approveOnProposals(page, half('password', password.who.name), mfa.who);
  await expect(proposalsOutcome(page)).toContainText(`Approved: ${half('password', password.who.name)}`, { timeout: 20_000 });
  await approveOnProposals(page, half('MFA', mfa.who.name), password.who);
  await expect(proposalsOutcome(page)).toContainText(`Approved: ${half('MFA', mfa.who.name)}`, { timeout: 20_000 });
}
