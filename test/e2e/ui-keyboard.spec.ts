import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

// Two Argon2id derivations (create, unlock) at about a second each.
test.setTimeout(90_000);

const ADMIN = { name: 'Kim Keys', organisation: 'Acme Ops', passphrase: 'pelican sandstone orchard 52' };

const focusedName = (page: Page): Promise<string> =>
  page.evaluate(() => {
    const el = document.activeElement;
    if (el === null) return '';
    const labelled = el.id === '' ? null : document.querySelector(`label[for="${el.id}"]`);
    return (labelled?.textContent ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
  });

/** Tabs to the control whose label (or text) is exactly `name`. */
async function tabToNamed(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 30; i += 1) {
    await page.keyboard.press('Tab');
    if ((await focusedName(page)) === name) return;
  }
  throw new Error(`Tab never reached "${name}"`);
}

test('keyboard only: create the vault, confirm the recovery key, navigate, unlock; focus follows each step', async ({ page, preview }) => {
  await page.goto(preview.link);
  await expect(page.getByRole('region', { name: 'Create the vault' })).toBeVisible();

  await tabToNamed(page, 'Admin name');
  await page.keyboard.type(ADMIN.name);
  await page.keyboard.press('Tab');
  await page.keyboard.type(ADMIN.organisation);
  await tabToNamed(page, 'Passphrase');
  await page.keyboard.type(ADMIN.passphrase);
  await tabToNamed(page, 'Confirm passphrase');
  await page.keyboard.type(ADMIN.passphrase);
  await page.keyboard.press('Enter');

  // Focus moves to the recovery key card, so a screen reader starts reading it.
  const card = page.getByRole('region', { name: 'Recovery key — shown once' });
  await expect(card.getByRole('heading', { level: 2 })).toBeFocused({ timeout: 30_000 });
  await tabToNamed(page, 'I have stored the recovery key offline');
  await page.keyboard.press('Space');
  await expect(card.getByRole('checkbox')).toBeChecked();
  await page.keyboard.press('Tab');
  await expect(card.getByRole('button', { name: 'Continue' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Custodians', level: 2 })).toBeFocused();

  await tabToNamed(page, `Unlock ${ADMIN.name}…`);
  await page.keyboard.press('Enter');
  await tabToNamed(page, `Passphrase for ${ADMIN.name}`);
  await page.keyboard.type(ADMIN.passphrase);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('banner')).toContainText(`Acting as ${ADMIN.name}`, { timeout: 30_000 });

  // Section navigation by keyboard: focus lands on the new view's heading.
  await page.getByRole('heading', { name: 'Custodians', level: 2 }).focus();
  await page.keyboard.press('Shift+Tab');
  for (let i = 0; i < 10 && (await focusedName(page)) !== 'Accounts'; i += 1) await page.keyboard.press('Shift+Tab');
  expect(await focusedName(page)).toBe('Accounts');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Accounts', level: 2 })).toBeFocused();

  // Adding an account by keyboard: the inline id check is announced with the field.
  await tabToNamed(page, 'AWS account id');
  await page.keyboard.type('12345');
  const idField = page.getByLabel('AWS account id', { exact: true });
  await expect(idField).toHaveAttribute('aria-invalid', 'true');
  await expect(idField).toHaveAccessibleDescription(/exactly 12 digits \(5 so far\)/);
  await page.keyboard.type('6789012');
  await expect(idField).toHaveAttribute('aria-invalid', 'false');
  await page.keyboard.press('Tab');
  await page.keyboard.type('keyboard-root');
  await page.keyboard.press('Tab');
  await page.keyboard.type('kb-root@example.com');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('region', { name: 'Add an account' }).getByRole('status')).toContainText('Added account 123456789012');
  const open = page.getByRole('button', { name: 'Open keyboard-root' });
  await open.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: /keyboard-root/, level: 2 })).toBeFocused();
  await tabToNamed(page, 'Back to accounts');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Accounts', level: 2 })).toBeFocused();
  await page.screenshot({ path: 'test-results/ui-keyboard.png', fullPage: true });

  // Nothing on the page carries an inline style: the CSP forbids them, so the UI must not rely on one.
  // (Chromium itself leaves an empty style="" on inputs it has autofill-checked; that declares nothing.)
  expect(
    await page.evaluate(() => [...document.querySelectorAll('[style]:not([style=""])')].map((e) => e.outerHTML.slice(0, 200))),
  ).toEqual([]);
});
