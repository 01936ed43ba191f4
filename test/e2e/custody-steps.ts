import type { Locator, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { expect } from './fixtures';
import { nav } from './ui-steps';

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
