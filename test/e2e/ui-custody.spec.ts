import AxeBuilder from '@axe-core/playwright';
import type { Locator, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readQrDataUrl } from '../support/read-qr';
import { startTestServer } from '../support/server-fixture';
import { issueToken } from '../support/sync-fixture';
import { expect, test } from './fixtures';
import { assignThroughUi, enrolThroughUi, unlockThroughUi } from './ui-steps';

// One custodian journey through the real services (vault, keychain, custody, journal) in Chromium.
// Argon2id MODERATE costs about a second per derivation; this journey makes seven of them, so
// the flow is one test with steps rather than seven tests each creating their own vault.
test.setTimeout(150_000);

const ADMIN = { name: 'Ada Admin', organisation: 'Acme Ops', passphrase: 'granite orbit velvet canyon 41' };
const PAT = { name: 'Pat Password', organisation: 'Acme Ops', passphrase: 'lantern meadow quartz ripple 7' };
const MO = { name: 'Mo Factor', organisation: 'Beta Audit', passphrase: 'harbor tundra mosaic falcon 9' };
const ACCOUNT = { id: '123456789012', alias: 'prod-root', email: 'aws-root@example.com' };
const ROOT_PASSWORD = 'Tq7#vLm2@pXz9!wRb4$';
// 20-byte base32 seed, given as an otpauth URI like the one AWS shows at virtual MFA registration.
const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const OTPAUTH = `otpauth://totp/Amazon%20Web%20Services:root@${ACCOUNT.id}?secret=${SEED}&issuer=Amazon%20Web%20Services`;

// The seed after rotation, typed as base32 the way people copy it: lower case, in groups.
const NEW_SEED = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';
const NEW_SEED_TYPED = NEW_SEED.toLowerCase()
  .replace(/(.{4})/g, '$1 ')
  .trim();

/** RFC 6238 codes from oathtool, independent of Halfkey and otplib: the current step and `extra` following ones. */
function oathtool(extra = 0, seed = SEED): string[] {
  return execFileSync('oathtool', ['--totp', '-w', String(extra), '-b', seed], { encoding: 'utf8' })
    .trim()
    .split('\n');
}

/** Reads the code on screen until it equals oathtool's current code (a period may roll over between the two reads). */
async function expectCodeMatches(code: Locator, seed: string): Promise<void> {
  let matched = false;
  for (let attempt = 0; attempt < 3 && !matched; attempt += 1) {
    const shown = (await code.locator('code').innerText()).replace(/\s/g, '');
    matched = shown === oathtool(0, seed)[0];
    if (!matched) await code.page().waitForTimeout(1500);
  }
  expect(matched).toBe(true);
}

async function noSeriousAxeViolations(page: Page, view: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${view}: ${v.id}: ${v.help}`);
  expect(serious).toEqual([]);
}

async function nav(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name }).click();
}

async function actAs(page: Page, who: { name: string }): Promise<void> {
  await nav(page, 'Custodians');
  const button = page.getByRole('button', { name: `Act as ${who.name}` });
  if (await button.isVisible()) await button.click();
  await expect(page.getByRole('banner')).toContainText(`Acting as ${who.name}`);
}

async function openAccount(page: Page): Promise<void> {
  await nav(page, 'Accounts');
  await page.getByRole('button', { name: `Open ${ACCOUNT.alias}` }).click();
  await expect(page.getByRole('heading', { name: new RegExp(ACCOUNT.alias), level: 2 })).toBeFocused();
}

/** Nothing the page keeps outside React state: web storage and the address bar. */
async function pageStorage(page: Page): Promise<string> {
  return page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, url: location.href }));
}

test('a vault admin and two custodians: create, enrol, add an account, assign, set halves, check out, codes, journal', async ({
  page,
  preview,
}) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(preview.link);

  await test.step('create the vault; the recovery key is shown once, then gone', async () => {
    const setup = page.getByRole('region', { name: 'Create the vault' });
    await setup.getByLabel('Admin name', { exact: true }).fill(ADMIN.name);
    await setup.getByLabel('Organisation', { exact: true }).fill(ADMIN.organisation);
    await setup.getByLabel('Passphrase', { exact: true }).fill('short');
    await expect(setup).toContainText('Too short: 5 of at least 12 characters');
    await setup.getByLabel('Passphrase', { exact: true }).fill(ADMIN.passphrase);
    await expect(setup).toContainText('Strength: strong');
    await setup.getByLabel('Confirm passphrase', { exact: true }).fill(`${ADMIN.passphrase}x`);
    await expect(setup).toContainText('The two passphrases differ.');
    await setup.getByLabel('Confirm passphrase', { exact: true }).fill(ADMIN.passphrase);
    await noSeriousAxeViolations(page, 'setup');
    await page.screenshot({ path: 'test-results/ui-setup.png', fullPage: true });
    await setup.getByRole('button', { name: 'Create vault' }).click();

    const card = page.getByRole('region', { name: 'Recovery key — shown once' });
    await expect(card).toBeVisible({ timeout: 30_000 });
    await expect(card.getByRole('heading', { level: 2 })).toBeFocused();
    const key = (await card.getByLabel('Recovery key', { exact: true }).innerText()).trim();
    expect(key.length).toBeGreaterThan(20);
    const qr = card.getByRole('img', { name: 'QR code of the recovery key' });
    await expect(qr).toHaveAttribute('src', /^data:image\/png;base64,/);
    // zbarimg reads the QR back to the same key: the image really encodes what the text says.
    expect(readQrDataUrl((await qr.getAttribute('src')) ?? '')).toBe(key);
    await expect(card.getByRole('button', { name: 'Continue' })).toBeDisabled();
    await noSeriousAxeViolations(page, 'recovery key');
    await page.screenshot({ path: 'test-results/ui-recovery-key.png', fullPage: true });
    // The status poll sees the new vault while the key is on screen; the card must stay.
    await expect(page.getByRole('contentinfo', { name: 'Status' })).toContainText('Vaultlocked', { timeout: 10_000 });
    await expect(card).toBeVisible();

    await card.getByLabel('I have stored the recovery key offline', { exact: true }).check();
    await card.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByRole('heading', { name: 'Custodians', level: 2 })).toBeFocused();
    expect(await page.content()).not.toContain(key);
    expect(await pageStorage(page)).not.toContain(key);
    await nav(page, 'Vault');
    await expect(page.getByRole('region', { name: 'Vault', exact: true })).toContainText('Vault locked');
    await expect(page.getByRole('region', { name: 'Open the vault' })).toHaveCount(0);
    expect(await page.content()).not.toContain(key);
  });

  await test.step('the admin unlocks and enrols a password custodian and an MFA custodian', async () => {
    await nav(page, 'Custodians');
    await unlockThroughUi(page, ADMIN);
    await expect(page.getByRole('banner')).toContainText(`Acting as ${ADMIN.name}`, { timeout: 20_000 });
    for (const [who, role] of [
      [PAT, 'Password custodian'],
      [MO, 'MFA custodian'],
    ] as const) {
      const enrol = await enrolThroughUi(page, who, role);
      await expect(enrol.getByLabel('Their passphrase', { exact: true })).toHaveValue('');
    }
    await expect(page.getByRole('listitem').filter({ hasText: PAT.name })).toContainText('Password custodian · Acme Ops');
    await expect(page.getByRole('listitem').filter({ hasText: MO.name })).toContainText('MFA custodian · Beta Audit');
    await noSeriousAxeViolations(page, 'custodians');
    await page.screenshot({ path: 'test-results/ui-custodians.png', fullPage: true });
  });

  await test.step('a wrong passphrase is refused, and the back-off is shown with its message', async () => {
    const row = await unlockThroughUi(page, { name: PAT.name, passphrase: 'not the right passphrase at all' });
    await expect(row.getByRole('alert')).toContainText('BAD_PASSPHRASE', { timeout: 20_000 });
    await row.getByLabel(`Passphrase for ${PAT.name}`, { exact: true }).fill(PAT.passphrase);
    await row.getByRole('button', { name: 'Unlock', exact: true }).click();
    await expect(row.getByRole('alert')).toContainText('BACKOFF');
    await expect(row.getByRole('alert')).toContainText(/try again in \d+ s/);
    await page.screenshot({ path: 'test-results/ui-backoff.png', fullPage: true });
  });

  await test.step('the admin adds an AWS account (12-digit id checked inline) and assigns the halves', async () => {
    await actAs(page, ADMIN);
    await nav(page, 'Accounts');
    const add = page.getByRole('region', { name: 'Add an account' });
    await add.getByLabel('AWS account id', { exact: true }).fill('12345678901a');
    await expect(add).toContainText('Only digits');
    await add.getByLabel('AWS account id', { exact: true }).fill('1234567');
    await expect(add).toContainText('exactly 12 digits (7 so far)');
    await expect(add.getByLabel('AWS account id', { exact: true })).toHaveAttribute('aria-invalid', 'true');
    await add.getByLabel('AWS account id', { exact: true }).fill(ACCOUNT.id);
    await expect(add.getByLabel('AWS account id', { exact: true })).toHaveAttribute('aria-invalid', 'false');
    await add.getByLabel('Alias', { exact: true }).fill(ACCOUNT.alias);
    await add.getByLabel('Root e-mail', { exact: true }).fill(ACCOUNT.email);
    await add.getByLabel('Rotate the password after every checkout', { exact: true }).check();
    await add.getByRole('button', { name: 'Add account' }).click();
    await expect(add.getByRole('status')).toContainText(`Added account ${ACCOUNT.id}`);

    const list = page.getByRole('region', { name: 'Accounts' });
    await list.getByLabel('Search accounts', { exact: true }).fill('no-such-account');
    await expect(list).toContainText('0 accounts match');
    await list.getByLabel('Search accounts', { exact: true }).fill('prod');
    await expect(list.getByRole('row').filter({ hasText: ACCOUNT.id })).toBeVisible();
    await noSeriousAxeViolations(page, 'accounts');
    await page.screenshot({ path: 'test-results/ui-accounts.png', fullPage: true });

    await openAccount(page);
    await assignThroughUi(page, 'password', PAT, 'Password custodian');
    const assign = await assignThroughUi(page, 'mfa', MO, 'MFA custodian');

    // Both halves to one custodian: the four-eyes policy refuses and the page names rule and item.
    await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${PAT.name} — Password custodian, ${PAT.organisation}` });
    await assign.getByRole('button', { name: 'Assign' }).click();
    const refusal = assign.getByRole('alert');
    await expect(refusal).toContainText('POLICY_REFUSED');
    await expect(refusal).toContainText('Rulerole fits item');
    await expect(refusal).toContainText('Itemmfa');
    await expect(refusal).toContainText(ACCOUNT.id);
    const items = page.getByRole('table', { name: 'Custody items' });
    await expect(items.getByRole('row', { name: /Password half/ })).toContainText(PAT.name);
    await expect(items.getByRole('row', { name: /MFA half/ })).toContainText(MO.name);
    await expect(items.getByRole('row', { name: /MFA half/ })).not.toContainText(PAT.name);
    await noSeriousAxeViolations(page, 'account detail');
    await page.screenshot({ path: 'test-results/ui-policy-refusal.png', fullPage: true });
  });

  await test.step('each custodian unlocks and sets their half; the secret is never shown back', async () => {
    await nav(page, 'Custodians');
    // The back-off from the wrong passphrase has run out by now (it starts at one second).
    await unlockThroughUi(page, PAT);
    await expect(page.getByRole('banner')).toContainText(`Acting as ${PAT.name}`, { timeout: 20_000 });
    await openAccount(page);
    const setPassword = page.getByRole('region', { name: 'Set the password half' });
    await setPassword.getByLabel('Root password', { exact: true }).fill(ROOT_PASSWORD);
    await expect(setPassword.getByLabel('Root password', { exact: true })).toHaveAttribute('type', 'password');
    await expect(setPassword.getByLabel('Root password', { exact: true })).toHaveAttribute('autocomplete', 'off');
    await setPassword.getByRole('button', { name: 'Set password half' }).click();
    const accountPanel = page.getByRole('region', { name: new RegExp(ACCOUNT.alias) });
    await expect(accountPanel.getByRole('status')).toContainText('The password half is set (generation 1)');
    // Set once: from now on the half changes by rotation, so the form (and the typed secret) is gone.
    await expect(setPassword).toHaveCount(0);
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /Password half/ })).toContainText(
      'password, generation 1',
    );
    expect(await page.content()).not.toContain(ROOT_PASSWORD);

    await nav(page, 'Custodians');
    await unlockThroughUi(page, MO);
    await expect(page.getByRole('banner')).toContainText(`Acting as ${MO.name}`, { timeout: 20_000 });
    await openAccount(page);
    const setMfa = page.getByRole('region', { name: 'Set the MFA half' });
    await setMfa.getByLabel('MFA seed (otpauth:// URI or base32)', { exact: true }).fill(OTPAUTH);
    await setMfa.getByRole('button', { name: 'Set mfa half' }).click();
    await expect(page.getByRole('region', { name: new RegExp(ACCOUNT.alias) }).getByRole('status')).toContainText(
      'The mfa half is set (generation 1)',
    );
    await expect(setMfa).toHaveCount(0);
    expect(await page.content()).not.toContain(SEED);
  });

  await test.step('the MFA custodian checks out and sees the code oathtool computes, and two enrolment codes', async () => {
    const checkout = page.getByRole('region', { name: 'Check out the MFA half' });
    await checkout.getByRole('button', { name: 'Check out' }).click();
    await expect(checkout.getByRole('alert')).toContainText('A reason is required');
    await checkout.getByLabel('Reason', { exact: true }).fill('Quarterly break-glass drill');
    await checkout.getByLabel('Ticket (optional)', { exact: true }).fill('CHG-1042');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    const card = page.getByRole('region', { name: `Checked out: MFA half of ${ACCOUNT.id}` });
    await expect(card).toBeVisible();
    await card.getByRole('button', { name: 'Show current code' }).click();
    const code = card.getByRole('group', { name: 'Current MFA code' });
    await expect(code.getByRole('timer')).toContainText(/Valid for \d+ s of 30 s/);
    await expectCodeMatches(code, SEED);
    await noSeriousAxeViolations(page, 'mfa checkout');
    await page.screenshot({ path: 'test-results/ui-totp.png', fullPage: true });

    await card.getByRole('button', { name: 'Enrolment assist: two consecutive codes' }).click();
    const pair = card.getByRole('group', { name: 'Enrolment codes' });
    let pairMatched = false;
    for (let attempt = 0; attempt < 3 && !pairMatched; attempt += 1) {
      const shown = (await pair.locator('code').allInnerTexts()).map((t) => t.replace(/\s/g, ''));
      pairMatched = JSON.stringify(shown) === JSON.stringify(oathtool(1));
      if (!pairMatched) {
        await card.getByRole('button', { name: 'Enrolment assist: two consecutive codes' }).click();
        await page.waitForTimeout(1500);
      }
    }
    expect(pairMatched).toBe(true);
    // The open checkout comes from the vault, so it is still there after navigating away and back.
    await nav(page, 'Journal');
    await openAccount(page);
    await expect(card).toContainText('Reason: Quarterly break-glass drill · ticket CHG-1042');
    await card.getByRole('button', { name: 'Check in' }).click();
    await expect(card).toHaveCount(0);
  });

  await test.step('the MFA custodian rotates to a new seed typed as base32; codes follow the new seed', async () => {
    const rotate = page.getByRole('region', { name: 'Rotate the MFA half' });
    await rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true }).fill('not base32 at all!');
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('alert')).toBeVisible();
    await expect(rotate.getByRole('alert')).not.toContainText('not base32');
    await rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true }).fill(NEW_SEED_TYPED);
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('status')).toContainText('generation 1 retired, generation 2 sealed');
    await expect(rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true })).toHaveValue('');
    expect(await page.content()).not.toContain(NEW_SEED_TYPED);

    const checkout = page.getByRole('region', { name: 'Check out the MFA half' });
    await checkout.getByLabel('Reason', { exact: true }).fill('Confirm the new virtual MFA device');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    const card = page.getByRole('region', { name: `Checked out: MFA half of ${ACCOUNT.id}` });
    await card.getByRole('button', { name: 'Show current code' }).click();
    await expectCodeMatches(card.getByRole('group', { name: 'Current MFA code' }), NEW_SEED);
    await card.getByRole('button', { name: 'Check in' }).click();
    await expect(card).toHaveCount(0);
  });

  await test.step('seed export takes two people: the MFA custodian asks, the admin approves, the requester collects once', async () => {
    const panel = page.getByRole('region', { name: 'Export the MFA seed (two people)' });
    await panel.getByLabel('Reason for the export', { exact: true }).fill('Move the virtual MFA to the new vault phone');
    await panel.getByRole('button', { name: 'Request export' }).click();
    const requests = panel.getByRole('table', { name: 'Open export requests' });
    await expect(requests).toContainText('waiting for approval');
    // Nobody approves their own request: the requester is not offered the button.
    await expect(requests.getByRole('button', { name: 'Approve' })).toHaveCount(0);

    await actAs(page, ADMIN);
    await openAccount(page);
    await panel.getByRole('table', { name: 'Open export requests' }).getByRole('button', { name: 'Approve' }).click();
    await expect(requests).toContainText(`approved by ${ADMIN.name}`);
    expect(await page.content()).not.toContain(NEW_SEED);

    await actAs(page, MO);
    await openAccount(page);
    await requests.getByRole('button', { name: 'Collect seed' }).click();
    const shown = panel.getByRole('group', { name: 'Exported seed (base32)' });
    await expect(shown).toContainText(NEW_SEED);
    await expect(panel.getByRole('group', { name: 'Exported seed (otpauth URI)' })).toContainText(`secret=${NEW_SEED}`);
    await expect(shown.getByRole('timer')).toContainText(/Hidden in \d+ s/);
    await shown.getByRole('button', { name: 'Hide now' }).click();
    await expect(shown).toHaveCount(0);
    await expect(panel.getByRole('group', { name: 'Exported seed (otpauth URI)' })).toHaveCount(0);
    expect(await page.content()).not.toContain(NEW_SEED);
    // Collected once: the request is gone.
    await expect(requests).toHaveCount(0);
  });

  await test.step('the password custodian checks out, reveals with a countdown, and the password is hidden afterwards', async () => {
    await actAs(page, PAT);
    await openAccount(page);
    const checkout = page.getByRole('region', { name: 'Check out the password half' });
    await checkout.getByLabel('Reason', { exact: true }).fill('Rotate root access keys after incident INC-77');
    await checkout.getByLabel('Lease', { exact: true }).selectOption({ label: '15 minutes' });
    await checkout.getByRole('button', { name: 'Check out' }).click();
    const card = page.getByRole('region', { name: `Checked out: password half of ${ACCOUNT.id}` });
    await card.getByLabel('Show for', { exact: true }).selectOption('10');
    await card.getByRole('button', { name: 'Copy password' }).click();
    await expect(card.getByRole('alert')).toContainText('UNSUPPORTED');
    await expect(card.getByRole('alert')).toContainText('desktop app only');

    await card.getByRole('button', { name: 'Reveal password' }).click();
    const shown = card.getByRole('group', { name: 'Root password' });
    await expect(shown).toContainText(ROOT_PASSWORD);
    const timer = shown.getByRole('timer');
    await expect(timer).toContainText(/Hidden in (10|9|8) s/);
    const first = Number(await timer.locator('.countdown-seconds').innerText());
    await expect(timer).not.toContainText(`Hidden in ${first} s`, { timeout: 3000 });
    expect(await pageStorage(page)).not.toContain(ROOT_PASSWORD);
    await noSeriousAxeViolations(page, 'password reveal');
    await page.screenshot({ path: 'test-results/ui-reveal.png', fullPage: true });
    await expect(shown).toHaveCount(0, { timeout: 12_000 });
    expect(await page.content()).not.toContain(ROOT_PASSWORD);

    await card.getByRole('button', { name: 'Check in' }).click();
    await expect(card).toHaveCount(0);
  });

  await test.step('check-in makes rotation due; the custodian rotates and sees the new password once, for a limited time', async () => {
    const checkout = page.getByRole('region', { name: 'Check out the password half' });
    await expect(checkout.getByRole('status')).toContainText('Rotation is due for this password');
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /Password half/ })).toContainText(
      'rotation due',
    );
    // Checking out again is refused until the rotation, with the vault's reason.
    await checkout.getByLabel('Reason', { exact: true }).fill('One more look');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    await expect(checkout.getByRole('alert')).toContainText('CONFLICT');

    const rotate = page.getByRole('region', { name: 'Rotate the password half' });
    await rotate.getByLabel('New password length', { exact: true }).fill('7');
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('alert')).toContainText('from 8 to 128');
    await rotate.getByLabel('New password length', { exact: true }).fill('24');
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('status')).toContainText('generation 1 retired, generation 2 sealed');
    const fresh = rotate.getByRole('group', { name: 'New root password' });
    const newPassword = (await fresh.locator('code').innerText()).trim();
    expect(newPassword).toHaveLength(24);
    expect(newPassword).not.toBe(ROOT_PASSWORD);
    await expect(fresh.getByRole('timer')).toContainText(/Hidden in \d+ s/);
    await fresh.getByRole('button', { name: 'Hide now' }).click();
    await expect(fresh).toHaveCount(0);
    expect(await page.content()).not.toContain(newPassword);
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /Password half/ })).toContainText(
      'password, generation 2',
    );
  });

  await test.step('the journal lists these events, filters them, and verifies', async () => {
    await nav(page, 'Journal');
    await expect(page.getByRole('heading', { name: 'Journal', level: 2 })).toBeFocused();
    const journal = page.getByRole('region', { name: 'Journal' });
    const rows = journal.getByRole('table', { name: 'Journal entries' });
    for (const type of [
      'custodian.enrolled',
      'account.added',
      'custody.assigned',
      'custody.refused',
      'checkout.opened',
      'totp.code-shown',
      'secret.revealed',
      'checkout.closed',
      'half.rotated',
      'seed.export-requested',
      'seed.export-approved',
      'seed.exported',
    ]) {
      await expect(rows.getByRole('cell', { name: type, exact: true }).first()).toBeVisible();
    }
    await expect(rows).toContainText('Quarterly break-glass drill');
    await expect(rows).not.toContainText(ROOT_PASSWORD);
    await expect(rows).not.toContainText(SEED);
    await expect(rows).not.toContainText(NEW_SEED);

    await journal.getByLabel('Type', { exact: true }).fill('checkout.opened');
    await journal.getByRole('button', { name: 'Filter' }).click();
    await expect(journal).toContainText('3 entries');
    const typeCells = rows.locator('tbody tr td:nth-child(3)');
    await expect(typeCells).toHaveText(['checkout.opened', 'checkout.opened', 'checkout.opened']);

    await journal.getByLabel('Actor', { exact: true }).selectOption({ label: MO.name });
    await journal.getByRole('button', { name: 'Filter' }).click();
    await expect(journal).toContainText('2 entries');
    await expect(rows.locator('tbody tr td:nth-child(4)')).toHaveText([
      `${MO.name} (${MO.organisation})`,
      `${MO.name} (${MO.organisation})`,
    ]);

    const verify = page.getByRole('region', { name: 'Verification' });
    await verify.getByRole('button', { name: 'Verify journal' }).click();
    await expect(verify).toContainText('Journal verified');
    const head = preview.services.status().journal.seq ?? -1;
    expect(head).toBeGreaterThan(10);
    await expect(verify).toContainText(/Entries verified\d+/);
    await noSeriousAxeViolations(page, 'journal');
    await page.screenshot({ path: 'test-results/ui-journal.png', fullPage: true });
  });

  await test.step('sync: enrol with a real journal server on loopback, see its fingerprint, sync now', async () => {
    const server = await startTestServer('sqlite');
    try {
      await nav(page, 'Sync');
      const sync = page.getByRole('region', { name: 'Sync' });
      await expect(sync).toContainText('Not enrolled with a journal server');
      const enrol = page.getByRole('region', { name: 'Enrol with a journal server' });
      await enrol.getByLabel('Server URL', { exact: true }).fill(server.url);
      await enrol.getByLabel('Enrolment token', { exact: true }).fill('A'.repeat(43));
      await enrol.getByRole('button', { name: 'Enrol' }).click();
      await expect(enrol.getByRole('alert')).toContainText('SYNC_FAILED');
      await expect(enrol.getByLabel('Enrolment token', { exact: true })).toHaveValue('');
      await noSeriousAxeViolations(page, 'sync');

      await enrol.getByLabel('Enrolment token', { exact: true }).fill(await issueToken(server));
      await enrol.getByRole('button', { name: 'Enrol' }).click();
      await expect(sync).toContainText(server.signer.fingerprint);
      await expect(sync.getByRole('img', { name: `QR code of the server fingerprint ${server.signer.fingerprint}` })).toBeVisible();
      await expect(sync.getByRole('alert')).toHaveCount(0);
      await sync.getByRole('button', { name: 'Sync now' }).click();
      await expect(sync).toContainText('Up to date');
      await expect(sync).toContainText('Pending entries0');
      await page.screenshot({ path: 'test-results/ui-sync.png', fullPage: true });
    } finally {
      await server.close();
    }
  });

  await test.step('the admin cannot remove the only holder of a half that has a secret', async () => {
    await actAs(page, ADMIN);
    await openAccount(page);
    await page.getByRole('button', { name: `Remove ${PAT.name} (${PAT.organisation}) from the password half` }).click();
    await expect(page.getByRole('region', { name: new RegExp(ACCOUNT.alias) }).getByRole('alert')).toBeVisible();
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /Password half/ })).toContainText(PAT.name);
  });

  await test.step('a hardware-token MFA half: registered by its custodian, checked out and put back elsewhere', async () => {
    await actAs(page, ADMIN);
    await nav(page, 'Accounts');
    const add = page.getByRole('region', { name: 'Add an account' });
    await add.getByLabel('AWS account id', { exact: true }).fill('210987654321');
    await add.getByLabel('Alias', { exact: true }).fill('audit-root');
    await add.getByLabel('Root e-mail', { exact: true }).fill('audit-root@example.com');
    await add.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('button', { name: 'Open audit-root' }).click();
    const assign = page.getByRole('region', { name: 'Assign a custody item' });
    await assign.getByLabel('Item', { exact: true }).selectOption('mfa');
    await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${MO.name} — MFA custodian, ${MO.organisation}` });
    await assign.getByRole('button', { name: 'Assign' }).click();
    await expect(assign.getByRole('status')).toContainText(`Assigned the mfa item to ${MO.name}`);

    await actAs(page, MO);
    await nav(page, 'Accounts');
    await page.getByRole('button', { name: 'Open audit-root' }).click();
    const set = page.getByRole('region', { name: 'Set the MFA half' });
    await set.getByLabel('Hardware token', { exact: true }).check();
    await set.getByLabel('Token serial number', { exact: true }).fill('GAKT000123456');
    await set.getByLabel('Where the token is kept', { exact: true }).fill('Safe 2, shelf B');
    await set.getByRole('button', { name: 'Set mfa half' }).click();
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /MFA half/ })).toContainText(
      'hardware token GAKT000123456',
    );

    const checkout = page.getByRole('region', { name: 'Check out the MFA hardware token half' });
    await expect(checkout).toContainText('Token GAKT000123456, kept at Safe 2, shelf B');
    await expect(page.getByRole('region', { name: 'Rotate the MFA half' })).toHaveCount(0);
    await checkout.getByLabel('Reason', { exact: true }).fill('Annual token battery check');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    const card = page.getByRole('region', { name: 'Checked out: MFA hardware token half of 210987654321' });
    await expect(card).toContainText('Take token GAKT000123456 from Safe 2, shelf B');
    await card.getByLabel('Put back at', { exact: true }).fill('Safe 3, drawer 1');
    await card.getByRole('button', { name: 'Check in the token' }).click();
    await expect(card).toHaveCount(0);
    await expect(checkout).toContainText('kept at Safe 3, drawer 1');
  });

  await test.step('the admin revokes a custodian with a reason; the reason is required and journaled', async () => {
    await actAs(page, ADMIN);
    const row = page.getByRole('listitem').filter({ hasText: MO.name });
    await row.getByRole('button', { name: `Revoke ${MO.name}…` }).click();
    const form = page.getByRole('form', { name: `Revoke ${MO.name}` });
    await form.getByRole('button', { name: `Revoke ${MO.name}` }).click();
    await expect(form.getByRole('alert')).toContainText('INVALID_PAYLOAD');
    await form.getByLabel('Reason for revoking', { exact: true }).fill('Left the audit firm');
    await form.getByRole('button', { name: `Revoke ${MO.name}` }).click();
    await expect(row).toContainText('MFA custodian · Beta Audit · revoked');
    await expect(row.getByRole('button', { name: `Unlock ${MO.name}…` })).toHaveCount(0);
    await nav(page, 'Journal');
    const journal = page.getByRole('region', { name: 'Journal' });
    await journal.getByLabel('Type', { exact: true }).fill('custodian.revoked');
    await journal.getByRole('button', { name: 'Filter' }).click();
    await expect(journal.getByRole('table', { name: 'Journal entries' })).toContainText('Left the audit firm');
  });

  await test.step('locking everyone ends the session', async () => {
    await nav(page, 'Custodians');
    await page.getByRole('button', { name: 'Lock everyone' }).click();
    await expect(page.getByRole('banner')).toContainText('Nobody acting');
    await expect(page.getByRole('listitem').filter({ hasText: ADMIN.name })).toContainText('Locked');
  });

  expect(pageErrors).toEqual([]);
});
