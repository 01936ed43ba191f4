import type { Locator, Page } from '@playwright/test';
import { addAccountWithHalves, expectCodeMatches, oathtoolCodes, openAccount as openAccountOf } from './custody-steps';
import { expect, test } from './fixtures';
import { actAs, approveOnProposals, createVaultThroughUi, enrol, nav, noSeriousAxeViolations, proposalsOutcome } from './ui-steps';

// Live custody state and abandoned rotations, in Chromium against the real services. About a dozen
// Argon2id derivations (every change of actor is an unlock), so one test with steps.
test.setTimeout(200_000);

const ADMIN = { name: 'Ada Admin', organisation: 'Acme Ops', passphrase: 'granite orbit velvet canyon 41' };
const PAT = { name: 'Pat Password', organisation: 'Acme Ops', passphrase: 'lantern meadow quartz ripple 7' };
const MO = { name: 'Mo Factor', organisation: 'Acme Ops', passphrase: 'harbor tundra mosaic falcon 9' };
const ACCOUNT = { id: '345678901234', alias: 'ops-root', email: 'ops-root@example.com' };
const ROOT_PASSWORD = 'Hk4!mZq9#Lw2$Tr7@Vb';
const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const NEW_SEED = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';

const openAccount = (page: Page): Promise<void> => openAccountOf(page, ACCOUNT);

/** The live custody panel: under the account list, or (`account`) under the open account. */
function livePanel(page: Page, account = false): Locator {
  return page.getByRole('region', account ? { name: 'Live custody of this account' } : { name: 'Live custody', exact: true });
}

/** The row of one half in a live custody panel. */
function halfRow(panel: Locator, half: 'Password' | 'MFA'): Locator {
  return panel.getByRole('row', { name: new RegExp(`^${half} `) });
}

/** Whole seconds a lease countdown shows ("14:59" → 899). */
async function secondsLeft(row: Locator): Promise<number> {
  const text = (await row.getByRole('timer').innerText()).trim();
  return text
    .split(':')
    .map(Number)
    .reduce((total, part) => total * 60 + part, 0);
}

async function checkOut(page: Page, half: 'password' | 'MFA', reason: string, lease: string): Promise<Locator> {
  const form = page.getByRole('region', { name: `Check out the ${half} half` });
  await form.getByLabel('Reason', { exact: true }).fill(reason);
  await form.getByLabel('Lease', { exact: true }).selectOption({ label: lease });
  await form.getByRole('button', { name: 'Check out' }).click();
  const card = page.getByRole('region', { name: `Checked out: ${half} half of ${ACCOUNT.id}` });
  await expect(card).toBeVisible();
  return card;
}

test('live custody state while both halves are out (highlighted, counted down, seen by every custodian); abandoned rotations leave the old secret working', async ({
  page,
  preview,
}) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(preview.link);

  await test.step('a vault with an admin, a password custodian and an MFA custodian, and one account with both halves assigned', async () => {
    await createVaultThroughUi(page, ADMIN);
    await actAs(page, ADMIN);
    await enrol(page, PAT, 'Password custodian', true);
    await enrol(page, MO, 'MFA custodian', false);
    await approveOnProposals(page, `Enrol ${MO.name} as mfa-custodian of ${MO.organisation}`, PAT, MO);
    await expect(proposalsOutcome(page)).toContainText(`Approved: Enrol ${MO.name}`, { timeout: 30_000 });

    await actAs(page, ADMIN);
    await nav(page, 'Accounts');
    await expect(livePanel(page)).toContainText('Nothing is checked out right now.');
    await addAccountWithHalves(page, ACCOUNT, { who: PAT, role: 'Password custodian' }, { who: MO, role: 'MFA custodian' });
  });

  await test.step('the password custodian checks out: one half out, no alarm; a password rotation abandoned leaves the old password in use', async () => {
    await actAs(page, PAT);
    await openAccount(page);
    const set = page.getByRole('region', { name: 'Set the password half' });
    await set.getByLabel('Root password', { exact: true }).fill(ROOT_PASSWORD);
    await set.getByRole('button', { name: 'Set password half' }).click();
    await expect(set).toHaveCount(0);
    const card = await checkOut(page, 'password', 'Root sign-in for INC-9', '15 minutes');

    // The account's own live panel, refreshed by the checkout itself.
    const live = livePanel(page, true);
    await expect(halfRow(live, 'Password')).toContainText(`${PAT.name}Root sign-in for INC-9`);
    await expect(live.getByRole('alert')).toHaveCount(0);
    await expect(live).not.toContainText('Both halves out');

    const rotate = page.getByRole('region', { name: 'Rotate the password half' });
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('status')).toContainText('Rotation pending: generation 2 pending, generation 1 still in use');
    const fresh = rotate.getByRole('group', { name: 'New root password' });
    const newPassword = (await fresh.locator('code').innerText()).trim();
    expect(newPassword).not.toBe(ROOT_PASSWORD);
    await rotate.getByRole('button', { name: 'Abandon rotation' }).click();
    await expect(rotate.getByRole('status')).toContainText('Abandoned: generation 2 dropped; generation 1 stays in use.');
    await expect(fresh).toHaveCount(0);
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /Password half/ })).toContainText(
      'password, generation 1',
    );
    await expect(page.getByRole('table', { name: 'Custody items' })).not.toContainText('pending');
    await expect(rotate.getByRole('button', { name: 'Rotate' })).toBeVisible();

    await card.getByRole('button', { name: 'Reveal password' }).click();
    const shown = card.getByRole('group', { name: 'Root password' });
    await expect(shown).toContainText(ROOT_PASSWORD);
    await shown.getByRole('button', { name: 'Hide now' }).click();
    expect(await page.content()).not.toContain(newPassword);
  });

  await test.step('the MFA custodian checks out too: both halves out, highlighted and announced, leases counting down', async () => {
    await actAs(page, MO);
    await openAccount(page);
    const set = page.getByRole('region', { name: 'Set the MFA half' });
    await set.getByLabel('MFA seed (otpauth:// URI or base32)', { exact: true }).fill(SEED);
    await set.getByRole('button', { name: 'Set mfa half' }).click();
    await expect(set).toHaveCount(0);
    await checkOut(page, 'MFA', 'Second factor for INC-9', '1 hour');

    const live = livePanel(page, true);
    const alert = live.getByRole('alert');
    await expect(alert).toContainText(
      `Both halves of ${ACCOUNT.alias} are out at once: ${PAT.name} has the password and ${MO.name} the MFA. Together they could sign in as root`,
    );
    await expect(live).toContainText('Both halves out');
    const password = halfRow(live, 'Password');
    const mfa = halfRow(live, 'MFA');
    await expect(password).toContainText(`${PAT.name}Root sign-in for INC-9`);
    await expect(mfa).toContainText(`${MO.name}Second factor for INC-9`);
    // Leases of 15 minutes and 1 hour, counting down live.
    await expect(password.getByRole('timer')).toHaveText(/^1[45]:\d\d$/);
    await expect(mfa.getByRole('timer')).toHaveText(/^(59:\d\d|1:00:00)$/);
    const before = await secondsLeft(mfa);
    await expect.poll(() => secondsLeft(mfa), { timeout: 4000 }).toBeLessThan(before);
    await noSeriousAxeViolations(page, 'live custody, account');

    await page.getByRole('button', { name: 'Back to accounts' }).click();
    const all = livePanel(page);
    await expect(all).toContainText('1 account has a half out; 1 has both halves out.');
    await expect(all.getByRole('alert')).toContainText(`Both halves of ${ACCOUNT.alias} are out at once`);
    await expect(halfRow(all, 'Password')).toContainText(PAT.name);
    await expect(halfRow(all, 'MFA')).toContainText(MO.name);
    await noSeriousAxeViolations(page, 'live custody, accounts');
    await page.screenshot({ path: 'test-results/ui-custody-state.png', fullPage: true });
  });

  await test.step('a custodian holding neither half sees the same state', async () => {
    await actAs(page, ADMIN);
    await nav(page, 'Accounts');
    const all = livePanel(page);
    await expect(all.getByRole('alert')).toContainText(`${PAT.name} has the password and ${MO.name} the MFA`);
    await expect(halfRow(all, 'MFA').getByRole('timer')).toHaveText(/^\d+:\d\d$/);
  });

  await test.step('check-in clears the alarm; an MFA rotation abandoned (pending when the screen opens) leaves codes on the old seed', async () => {
    await actAs(page, MO);
    await openAccount(page);
    const card = page.getByRole('region', { name: `Checked out: MFA half of ${ACCOUNT.id}` });
    await card.getByRole('button', { name: 'Check in' }).click();
    await expect(card).toHaveCount(0);
    const live = livePanel(page, true);
    await expect(live.getByRole('alert')).toHaveCount(0);
    await expect(halfRow(live, 'MFA')).toHaveCount(0);
    await expect(halfRow(live, 'Password')).toContainText(PAT.name);

    const rotate = page.getByRole('region', { name: 'Rotate the MFA half' });
    await rotate.getByLabel('New MFA seed (otpauth:// URI or base32)', { exact: true }).fill(NEW_SEED);
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await expect(rotate.getByRole('status')).toContainText('Rotation pending: generation 2 pending, generation 1 still in use');

    // Leaving and coming back: the pending rotation is read from the account, not remembered by the form.
    await nav(page, 'Journal');
    await openAccount(page);
    await expect(rotate).toContainText('Rotation pending: generation 2 pending, generation 1 still in use');
    // No outcome line: nothing was done on this visit.
    await expect(rotate.getByRole('status')).toHaveCount(0);
    await expect(rotate.getByRole('button', { name: 'Confirm the new secret is set at AWS' })).toBeVisible();
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /MFA half/ })).toContainText(
      'totp, generation 1, generation 2 pending confirmation',
    );
    await noSeriousAxeViolations(page, 'pending rotation');

    await rotate.getByRole('button', { name: 'Abandon rotation' }).click();
    await expect(rotate.getByRole('status')).toContainText('Abandoned: generation 2 dropped; generation 1 stays in use.');
    await expect(page.getByRole('table', { name: 'Custody items' }).getByRole('row', { name: /MFA half/ })).not.toContainText('pending');
    const again = await checkOut(page, 'MFA', 'Codes after the abandoned rotation', '15 minutes');
    await again.getByRole('button', { name: 'Show current code' }).click();
    await expectCodeMatches(again.getByRole('group', { name: 'Current MFA code' }), SEED);
    expect(oathtoolCodes(SEED)).not.toEqual(oathtoolCodes(NEW_SEED));
  });

  expect(pageErrors).toEqual([]);
});
