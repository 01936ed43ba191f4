import type { Page } from '@playwright/test';
import { readQrDataUrl } from '../support/read-qr';
import { startTestServer } from '../support/server-fixture';
import { issueToken } from '../support/sync-fixture';
import { expectCodeMatches, oathtoolCodes, openAccount as openAccountOf } from './custody-steps';
import { expect, test } from './fixtures';
import {
  addOrganisationThroughUi,
  actAs,
  approveOnProposals,
  custodianRow,
  enrol,
  journalEntriesOfType,
  nav,
  noSeriousAxeViolations,
  proposalsOutcome,
  unlock,
} from './ui-steps';

// One custodian journey through the real services (vault, keychain, custody, journal) in Chromium.
// Argon2id MODERATE costs about a second per derivation; this journey makes about twenty-one of them
// (one custodian acts at a time, so every switch is an unlock), so the flow is one test with steps
// rather than many tests each creating their own vault.
test.setTimeout(300_000);

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

/** Opens the journey's account from the Accounts list. */
const openAccount = (page: Page): Promise<void> => openAccountOf(page, ACCOUNT);

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

  await test.step("the admin enrols the founding password custodian; Mo's organisation and then Mo are proposed, and approved by the first with Mo typing their passphrase", async () => {
    await actAs(page, ADMIN);
    await enrol(page, PAT, 'Password custodian', true);
    // Mo's organisation is not one of the founding pair's: it is proposed and approved first.
    await addOrganisationThroughUi(page, MO.organisation, PAT);
    await actAs(page, ADMIN);
    await enrol(page, MO, 'MFA custodian', false);
    await approveOnProposals(page, `Enrol ${MO.name} as mfa-custodian of ${MO.organisation}`, PAT, MO);
    await expect(proposalsOutcome(page)).toContainText(`${PAT.name} is acting now; ${ADMIN.name} was locked.`, { timeout: 30_000 });
    await nav(page, 'Custodians');
    await expect(custodianRow(page, PAT.name)).toContainText('Password custodian · Acme Ops');
    await expect(custodianRow(page, MO.name)).toContainText('MFA custodian · Beta Audit');
    await noSeriousAxeViolations(page, 'custodians');
    await page.screenshot({ path: 'test-results/ui-custodians.png', fullPage: true });
  });

  await test.step('a wrong passphrase is refused, and the back-off is shown with its message', async () => {
    const row = await unlock(page, { name: MO.name, passphrase: 'not the right passphrase at all' });
    await expect(row.getByRole('alert')).toContainText('BAD_PASSPHRASE', { timeout: 20_000 });
    await row.getByLabel(`Passphrase for ${MO.name}`, { exact: true }).fill(MO.passphrase);
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
    const assign = page.getByRole('region', { name: 'Assign a custody item' });
    await assign.getByLabel('Item', { exact: true }).selectOption('password');
    await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${PAT.name} — Password custodian, ${PAT.organisation}` });
    await assign.getByRole('button', { name: 'Propose assignment' }).click();
    const passwordProposal = `Assign the password half of account ${ACCOUNT.id} to ${PAT.name}`;
    await expect(assign.getByRole('status')).toContainText(`Proposed: ${passwordProposal}`);
    await assign.getByLabel('Item', { exact: true }).selectOption('mfa');
    await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${MO.name} — MFA custodian, ${MO.organisation}` });
    await assign.getByRole('button', { name: 'Propose assignment' }).click();
    const mfaProposal = `Assign the MFA half of account ${ACCOUNT.id} to ${MO.name}`;
    await expect(assign.getByRole('status')).toContainText(`Proposed: ${mfaProposal}`);

    // Both halves to one custodian: the four-eyes policy refuses at once, and the page names rule and item.
    await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${PAT.name} — Password custodian, ${PAT.organisation}` });
    await assign.getByRole('button', { name: 'Propose assignment' }).click();
    const refusal = assign.getByRole('alert');
    await expect(refusal).toContainText('POLICY_REFUSED');
    await expect(refusal).toContainText('Rulerole fits item');
    await expect(refusal).toContainText('Itemmfa');
    await expect(refusal).toContainText(ACCOUNT.id);
    // A second custodian approves each assignment — never the one who gains the half.
    await approveOnProposals(page, passwordProposal, MO);
    await expect(proposalsOutcome(page)).toContainText(passwordProposal, { timeout: 20_000 });
    await approveOnProposals(page, mfaProposal, PAT);
    await expect(proposalsOutcome(page)).toContainText(mfaProposal, { timeout: 20_000 });
    await actAs(page, ADMIN);
    await openAccount(page);
    const items = page.getByRole('table', { name: 'Custody items' });
    await expect(items.getByRole('row', { name: /Password half/ })).toContainText(PAT.name);
    await expect(items.getByRole('row', { name: /MFA half/ })).toContainText(MO.name);
    await expect(items.getByRole('row', { name: /MFA half/ })).not.toContainText(PAT.name);
    await noSeriousAxeViolations(page, 'account detail');
    await page.screenshot({ path: 'test-results/ui-policy-refusal.png', fullPage: true });
  });

  await test.step('each custodian unlocks and sets their half; the secret is never shown back', async () => {
    await actAs(page, PAT);
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

    // The back-off from the wrong passphrase has run out by now (it starts at one second).
    await actAs(page, MO);
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
      pairMatched = JSON.stringify(shown) === JSON.stringify(oathtoolCodes(SEED, 1));
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

  await test.step('the MFA custodian rotates to a new seed typed as base32: pending, codes still follow the old seed; confirmed by them and approved by the admin under Proposals, codes follow the new seed', async () => {
    const rotate = page.getByRole('region', { name: 'Rotate the MFA half' });
    await rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true }).fill('not base32 at all!');
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('alert')).toBeVisible();
    await expect(rotate.getByRole('alert')).not.toContainText('not base32');
    await rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true }).fill(NEW_SEED_TYPED);
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    // Two-phase: the new seed is pending and the old one stays in use.
    await expect(rotate.getByRole('status')).toContainText('Rotation pending: generation 2 pending, generation 1 still in use');
    await expect(rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true })).toHaveCount(0);
    expect(await page.content()).not.toContain(NEW_SEED_TYPED);
    const mfaRow = page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /MFA half/ });
    await expect(mfaRow).toContainText('totp, generation 1, generation 2 pending confirmation');

    await rotate.getByRole('button', { name: 'Confirm the new secret is set at AWS' }).click();
    const confirmProposal = `Confirm the rotation of the MFA half of account ${ACCOUNT.id} to generation 2`;
    await expect(rotate.getByRole('status')).toContainText(`Proposed: ${confirmProposal}`);
    await expect(rotate.getByRole('status')).toContainText('A second custodian must approve it under Proposals');
    await expect(rotate).toContainText(`Confirmation proposed by ${MO.name}`);
    await expect(rotate.getByRole('button', { name: 'Confirm the new secret is set at AWS' })).toHaveCount(0);
    await noSeriousAxeViolations(page, 'pending rotation');
    await page.screenshot({ path: 'test-results/ui-rotation-pending.png', fullPage: true });

    // Confirmed but not yet approved: codes still follow the old seed.
    const checkout = page.getByRole('region', { name: 'Check out the MFA half' });
    const card = page.getByRole('region', { name: `Checked out: MFA half of ${ACCOUNT.id}` });
    await checkout.getByLabel('Reason', { exact: true }).fill('Codes while the rotation waits for approval');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    await card.getByRole('button', { name: 'Show current code' }).click();
    await expectCodeMatches(card.getByRole('group', { name: 'Current MFA code' }), SEED);
    await card.getByRole('button', { name: 'Check in' }).click();
    await expect(card).toHaveCount(0);

    // The proposer cannot approve their own confirmation; the admin does.
    await approveOnProposals(page, confirmProposal, ADMIN);
    await expect(proposalsOutcome(page)).toContainText(`Approved: ${confirmProposal}`, { timeout: 20_000 });
    await actAs(page, MO);
    await openAccount(page);
    await expect(mfaRow).toContainText('totp, generation 2');
    await expect(mfaRow).not.toContainText('pending');
    await expect(page.getByRole('region', { name: 'Rotate the MFA half' }).getByRole('button', { name: 'Rotate' })).toBeVisible();

    await checkout.getByLabel('Reason', { exact: true }).fill('Confirm the new virtual MFA device');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    await card.getByRole('button', { name: 'Show current code' }).click();
    await expectCodeMatches(card.getByRole('group', { name: 'Current MFA code' }), NEW_SEED);
    await card.getByRole('button', { name: 'Check in' }).click();
    await expect(card).toHaveCount(0);
  });

  await test.step('seed export takes two people: the MFA custodian asks, the admin approves under Proposals, the requester collects once', async () => {
    const panel = page.getByRole('region', { name: 'Export the MFA seed (two people)' });
    await panel.getByLabel('Reason for the export', { exact: true }).fill('Move the virtual MFA to the new vault phone');
    await panel.getByRole('button', { name: 'Request export' }).click();
    const requests = panel.getByRole('table', { name: 'Open export requests' });
    await expect(requests).toContainText('waiting for approval');
    // Nobody approves their own request: the panel sends the second custodian to Proposals.
    await expect(requests.getByRole('button', { name: 'Approve' })).toHaveCount(0);

    const seedProposal = `Let the requester export the TOTP seed of account ${ACCOUNT.id}`;
    await approveOnProposals(page, seedProposal, ADMIN);
    await expect(proposalsOutcome(page)).toContainText(seedProposal, { timeout: 20_000 });
    await actAs(page, ADMIN);
    await openAccount(page);
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

  await test.step('check-in makes rotation due; the custodian rotates, sees the new password once, confirms; a second custodian approves', async () => {
    const checkout = page.getByRole('region', { name: 'Check out the password half' });
    await expect(checkout.getByRole('status')).toContainText('Rotation is due for this password');
    const passwordRow = page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /Password half/ });
    await expect(passwordRow).toContainText('rotation due');
    // Checking out again is refused until the rotation, with the vault's reason.
    await checkout.getByLabel('Reason', { exact: true }).fill('One more look');
    await checkout.getByRole('button', { name: 'Check out' }).click();
    await expect(checkout.getByRole('alert')).toContainText('CONFLICT');

    const rotate = page.getByRole('region', { name: 'Rotate the password half' });
    // The walk-through of the dual-presence step, with the people who hold each half named.
    await expect(rotate).toContainText('Rotating the root password takes two people');
    await expect(rotate).toContainText(`${PAT.name} (password custodian) checks out the password half and types the current password`);
    await expect(rotate).toContainText(`${MO.name} (MFA custodian) checks out the MFA half and reads out the current code`);
    await expect(rotate.getByRole('listitem').filter({ hasText: 'Sign in to AWS as root together' })).toHaveAttribute(
      'aria-current',
      'step',
    );
    await rotate.getByLabel('New password length', { exact: true }).fill('7');
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('alert')).toContainText('from 8 to 128');
    await rotate.getByLabel('New password length', { exact: true }).fill('24');
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('status')).toContainText('Rotation pending: generation 2 pending, generation 1 still in use');
    const fresh = rotate.getByRole('group', { name: 'New root password' });
    const newPassword = (await fresh.locator('code').innerText()).trim();
    expect(newPassword).toHaveLength(24);
    expect(newPassword).not.toBe(ROOT_PASSWORD);
    await expect(fresh.getByRole('timer')).toContainText(/Hidden in \d+ s/);
    await fresh.getByRole('button', { name: 'Hide now' }).click();
    await expect(fresh).toHaveCount(0);
    expect(await page.content()).not.toContain(newPassword);
    await expect(passwordRow).toContainText('password, generation 1, rotation due, generation 2 pending confirmation');
    await expect(rotate.getByRole('listitem').filter({ hasText: 'the password custodian confirms here' })).toHaveAttribute(
      'aria-current',
      'step',
    );

    await rotate.getByRole('button', { name: 'Confirm the new secret is set at AWS' }).click();
    const confirmProposal = `Confirm the rotation of the password half of account ${ACCOUNT.id} to generation 2`;
    await expect(rotate.getByRole('status')).toContainText(`Proposed: ${confirmProposal}`);
    await expect(rotate.getByRole('listitem').filter({ hasText: 'A second custodian approves the confirmation' })).toHaveAttribute(
      'aria-current',
      'step',
    );
    await noSeriousAxeViolations(page, 'password rotation walk-through');
    await approveOnProposals(page, confirmProposal, MO);
    await expect(proposalsOutcome(page)).toContainText(`Approved: ${confirmProposal}`, { timeout: 20_000 });
    await openAccount(page);
    await expect(passwordRow).toContainText('password, generation 2');
    await expect(passwordRow).not.toContainText('rotation due');
    await expect(passwordRow).not.toContainText('pending');
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
      'rotation.pending',
      'rotation.confirmed',
      'proposal.created',
      'seed-export.approved',
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
    // Three MFA checkouts (codes; codes while the rotation waited; codes after it) and one password checkout.
    await expect(journal).toContainText('4 entries');
    const typeCells = rows.locator('tbody tr td:nth-child(3)');
    await expect(typeCells).toHaveText(['checkout.opened', 'checkout.opened', 'checkout.opened', 'checkout.opened']);

    await journal.getByLabel('Actor', { exact: true }).selectOption({ label: MO.name });
    await journal.getByRole('button', { name: 'Filter' }).click();
    await expect(journal).toContainText('3 entries');
    await expect(rows.locator('tbody tr td:nth-child(4)')).toHaveText([
      `${MO.name} (${MO.organisation})`,
      `${MO.name} (${MO.organisation})`,
      `${MO.name} (${MO.organisation})`,
    ]);

    const verify = page.getByRole('region', { name: 'Verification' });
    await verify.getByRole('button', { name: 'Verify journal' }).click();
    // Every two-person entry above (enrolment, assignments, seed export) carries both signatures.
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
    await assign.getByRole('button', { name: 'Propose assignment' }).click();
    const tokenProposal = `Assign the MFA half of account 210987654321 to ${MO.name}`;
    await expect(assign.getByRole('status')).toContainText(`Proposed: ${tokenProposal}`);
    await approveOnProposals(page, tokenProposal, PAT);
    await expect(proposalsOutcome(page)).toContainText(tokenProposal, { timeout: 20_000 });

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

  await test.step('the admin proposes revoking a custodian with a reason (required); a second custodian approves; the reason is journaled', async () => {
    await actAs(page, ADMIN);
    const row = custodianRow(page, MO.name);
    await row.getByRole('button', { name: `Revoke ${MO.name}…` }).click();
    const form = page.getByRole('form', { name: `Revoke ${MO.name}` });
    await form.getByRole('button', { name: `Propose revoking ${MO.name}` }).click();
    await expect(form.getByRole('alert')).toContainText('INVALID_PAYLOAD');
    await form.getByLabel('Reason for revoking', { exact: true }).fill('Left the audit firm');
    await form.getByRole('button', { name: `Propose revoking ${MO.name}` }).click();
    await expect(page.getByRole('region', { name: 'Custodians' }).getByRole('status')).toContainText(
      `Proposed: Revoke ${MO.name}: Left the audit firm`,
    );
    await expect(row).not.toContainText('revoked');
    await approveOnProposals(page, `Revoke ${MO.name}: Left the audit firm`, PAT);
    await expect(proposalsOutcome(page)).toContainText(`Approved: Revoke ${MO.name}`, { timeout: 20_000 });
    await nav(page, 'Custodians');
    await expect(row).toContainText('MFA custodian · Beta Audit · revoked');
    await expect(row.getByRole('button', { name: `Unlock ${MO.name}…` })).toHaveCount(0);
    await expect(await journalEntriesOfType(page, 'custodian.revoked')).toContainText('Left the audit firm');
  });

  await test.step('locking everyone ends the session', async () => {
    await nav(page, 'Custodians');
    await page.getByRole('button', { name: 'Lock everyone' }).click();
    await expect(page.getByRole('banner')).toContainText('Nobody acting');
    await expect(custodianRow(page, ADMIN.name)).toContainText('Locked');
  });

  expect(pageErrors).toEqual([]);
});
