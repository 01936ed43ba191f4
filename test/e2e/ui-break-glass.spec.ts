import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { flat, pdfLines } from '../support/pdf-text';
import { addAccountWithHalves, expectCodeMatches, openAccount as openAccountOf } from './custody-steps';
import { expect, test } from './fixtures';
import {
  actAs,
  approveOnProposals,
  createVaultThroughUi,
  enrol,
  journalEntriesOfType,
  nav,
  noSeriousAxeViolations,
  proposalsOutcome,
} from './ui-steps';

// The break-glass ceremony on the Break-glass screen, in Chromium against the real services
// (vault, keychain, custody, journal) through the preview adapter: an incident is opened, the
// password custodian uses the password half, the same person is refused the MFA half, the MFA
// custodian takes over with their own passphrase and sees live codes, the session is closed with
// its outcome and shows both halves due for rotation; then the runbook is printed for the account.
// About a dozen Argon2id derivations (every change of actor is an unlock), so one test with steps.
test.setTimeout(240_000);

const ADMIN = { name: 'Ada Admin', organisation: 'Acme Ops', passphrase: 'granite orbit velvet canyon 41' };
const PAT = { name: 'Pat Password', organisation: 'Acme Ops', passphrase: 'lantern meadow quartz ripple 7' };
const MO = { name: 'Mo Factor', organisation: 'Acme Ops', passphrase: 'harbor tundra mosaic falcon 9' };
const ACCOUNT = { id: '456789012345', alias: 'mgmt-root', email: 'mgmt-root@example.com' };
const ROOT_PASSWORD = 'Bg7!rQz4#Nv8$Wk2@Lm';
const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const INCIDENT = { reference: 'INC-2024-17', reason: 'An SCP denies every administrator role in the organisation' };

const openAccount = (page: Page): Promise<void> => openAccountOf(page, ACCOUNT);

/** The panel of the session opened for INCIDENT. */
const sessionPanel = (page: Page): Locator =>
  page.getByRole('region', { name: `Break-glass ${INCIDENT.reference}: account ${ACCOUNT.id} (${ACCOUNT.alias})` });

/**
 * Presses a button whose call needs the actor present: if the presence window has passed, the
 * prompt asks for their passphrase again, and they type it. Ends when `done` shows.
 */
async function presentClick(page: Page, button: Locator, who: { name: string; passphrase: string }, done: Locator): Promise<void> {
  await button.click();
  const prompt = page.getByRole('form', { name: `Enter ${who.name}'s passphrase to continue` });
  await expect(done.or(prompt).first()).toBeVisible({ timeout: 20_000 });
  if (await prompt.isVisible()) {
    await prompt.getByLabel(`${who.name}'s passphrase`, { exact: true }).fill(who.passphrase);
    await prompt.getByRole('button', { name: 'Continue' }).click();
  }
  await expect(done).toBeVisible({ timeout: 20_000 });
}

let work = '';
test.beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'halfkey-e2e-break-glass-'));
});
test.afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

test('break-glass on one workstation: incident, password custodian, the same person refused the MFA half, MFA custodian with live codes, close, rotation due; the runbook printed', async ({
  page,
  preview,
}) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(preview.link);

  await test.step('a vault with an admin, a password custodian and an MFA custodian, one account with both halves assigned and set', async () => {
    await createVaultThroughUi(page, ADMIN);
    await actAs(page, ADMIN);
    await enrol(page, PAT, 'Password custodian', true);
    await enrol(page, MO, 'MFA custodian', false);
    await approveOnProposals(page, `Enrol ${MO.name} as mfa-custodian of ${MO.organisation}`, PAT, MO);
    await expect(proposalsOutcome(page)).toContainText(`Approved: Enrol ${MO.name}`, { timeout: 30_000 });

    await actAs(page, ADMIN);
    await addAccountWithHalves(page, ACCOUNT, { who: PAT, role: 'Password custodian' }, { who: MO, role: 'MFA custodian' });

    await actAs(page, MO);
    await openAccount(page);
    const setMfa = page.getByRole('region', { name: 'Set the MFA half' });
    await setMfa.getByLabel('MFA seed (otpauth:// URI or base32)', { exact: true }).fill(SEED);
    await setMfa.getByRole('button', { name: 'Set mfa half' }).click();
    await expect(setMfa).toHaveCount(0);
    await actAs(page, PAT);
    await openAccount(page);
    const setPassword = page.getByRole('region', { name: 'Set the password half' });
    await setPassword.getByLabel('Root password', { exact: true }).fill(ROOT_PASSWORD);
    await setPassword.getByRole('button', { name: 'Set password half' }).click();
    await expect(setPassword).toHaveCount(0);
  });

  await test.step('the password custodian opens a session naming the incident', async () => {
    await nav(page, 'Break-glass');
    await expect(page.getByRole('region', { name: 'Break-glass', exact: true })).toContainText(
      'No break-glass session is open or awaiting rotation.',
    );
    const form = page.getByRole('form', { name: 'Incident' });
    await form.getByLabel('Account', { exact: true }).selectOption(ACCOUNT.id);
    // The main process refuses an incident without its reference, in its own words.
    await form.getByLabel('Why the root user is needed', { exact: true }).fill(INCIDENT.reason);
    await form.getByRole('button', { name: 'Open break-glass session' }).click();
    await expect(form.getByRole('alert')).toContainText('INVALID_PAYLOAD');
    await form.getByLabel('Incident reference', { exact: true }).fill(INCIDENT.reference);
    await form.getByLabel('Severity', { exact: true }).selectOption('critical');
    await noSeriousAxeViolations(page, 'break-glass: incident');
    await presentClick(page, form.getByRole('button', { name: 'Open break-glass session' }), PAT, sessionPanel(page));
    const panel = sessionPanel(page);
    await expect(panel).toContainText(`Severitycritical`);
    await expect(panel).toContainText(INCIDENT.reason);
    await expect(panel).toContainText(`by ${PAT.name}`);
    await expect(panel.getByRole('heading', { name: 'Step 1: the password custodian' })).toBeVisible();
    await expect(panel.getByRole('button', { name: 'Use the password half' })).toBeVisible();
    // One session per account: the incident form is put away while this one is open.
    await expect(page.getByRole('form', { name: 'Incident' })).toHaveCount(0);
    await page.screenshot({ path: 'test-results/ui-break-glass-opened.png', fullPage: true });
  });

  await test.step('the password custodian, present, uses the password half: the password is shown to them, timed', async () => {
    const panel = sessionPanel(page);
    const shown = panel.getByRole('group', { name: 'Root password' });
    await presentClick(page, panel.getByRole('button', { name: 'Use the password half' }), PAT, shown);
    await expect(shown).toContainText(ROOT_PASSWORD);
    await expect(shown.getByRole('timer')).toContainText(/\d+/);
    await expect(panel.getByRole('timer').filter({ hasText: 'Password half checkout open for' })).toBeVisible();
    await expect(panel).toContainText('Steppassword-used');
    await noSeriousAxeViolations(page, 'break-glass: password step');
    await shown.getByRole('button', { name: 'Hide now' }).click();
    await expect(shown).toHaveCount(0);
    await expect(panel.getByRole('button', { name: 'Show the password again' })).toBeVisible();
    expect(await page.content()).not.toContain(ROOT_PASSWORD);
  });

  await test.step('the same person is refused the MFA half: not offered on screen, and refused by the main process if asked', async () => {
    const panel = sessionPanel(page);
    await expect(panel.getByRole('heading', { name: 'Step 2: the MFA custodian (another person)' })).toBeVisible();
    await expect(panel.getByRole('button', { name: 'Use the MFA half' })).toHaveCount(0);
    const handOver = panel.getByRole('form', { name: 'Hand over: the MFA half' });
    const picker = handOver.getByLabel('Custodian (you)', { exact: true });
    await expect(picker.locator('option')).toHaveText([MO.name]);
    // Asked through the page's own API, as a person bypassing the screen would: refused, and journaled.
    const refused = await page.evaluate(async (name) => {
      type Api = Record<string, (request: unknown) => Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }>>;
      const api = (window as unknown as { halfkey: Api }).halfkey;
      const custodians = (await api.custodianList!({})).value as { custodians: { id: string; name: string }[] };
      const sessions = (await api.breakGlassList!({})).value as { sessions: { sessionId: string }[] };
      const by = custodians.custodians.find((c) => c.name === name)?.id ?? '';
      return api.breakGlassUseMfa!({ by, sessionId: sessions.sessions[0]?.sessionId ?? '' });
    }, PAT.name);
    expect(refused).toMatchObject({ ok: false, error: { code: 'POLICY_REFUSED' } });
    expect(refused.error?.message).toContain(`${PAT.name} used the password half in this session, so cannot also use the MFA half`);
    await expect(panel).toContainText('Steppassword-used');
  });

  await test.step('the MFA custodian takes over with their own passphrase and uses the MFA half: live code and timers', async () => {
    const panel = sessionPanel(page);
    const handOver = panel.getByRole('form', { name: 'Hand over: the MFA half' });
    await handOver.getByLabel('Your passphrase', { exact: true }).fill(MO.passphrase);
    await handOver.getByRole('button', { name: 'Take over' }).click();
    await expect(page.getByRole('banner')).toContainText(`Acting as ${MO.name}`, { timeout: 20_000 });
    const code = panel.getByRole('group', { name: 'Current MFA code' });
    await presentClick(page, panel.getByRole('button', { name: 'Use the MFA half' }), MO, code);
    await expectCodeMatches(code, SEED);
    await expect(code.getByRole('timer')).toContainText(/\d+/);
    await expect(code.getByRole('progressbar', { name: 'Time left for this code' })).toBeVisible();
    await expect(panel.getByRole('timer').filter({ hasText: 'MFA half checkout open for' })).toBeVisible();
    await expect(panel.getByRole('timer').filter({ hasText: 'Password half checkout open for' })).toBeVisible();
    await expect(panel).toContainText('Stepmfa-used');
    await expect(panel.getByRole('region', { name: 'After signing in as root' })).toContainText('sign out of the root user');
    // The password was Pat's alone: nothing on screen offers it to Mo.
    await expect(panel.getByRole('button', { name: 'Show the password again' })).toHaveCount(0);
    await noSeriousAxeViolations(page, 'break-glass: MFA step');
    await page.screenshot({ path: 'test-results/ui-break-glass-mfa.png', fullPage: true });
  });

  await test.step('closed with its outcome: both halves shown as due for rotation', async () => {
    const panel = sessionPanel(page);
    const close = panel.getByRole('form', { name: 'Close the session' });
    await expect(close.getByLabel('Outcome', { exact: true })).toHaveValue('resolved');
    await close.getByRole('button', { name: 'Close with this outcome' }).click();
    await expect(close.getByRole('alert')).toContainText('INVALID_PAYLOAD');
    await close.getByLabel('What was done', { exact: true }).fill('Break-glass role created, SCP detached, signed out of root');
    await close.getByRole('button', { name: 'Close with this outcome' }).click();
    await expect(panel.getByRole('heading', { name: 'Closed: resolved' })).toBeVisible();
    await expect(panel.getByRole('form', { name: 'Close the session' })).toHaveCount(0);
    const rotation = panel.getByRole('list', { name: 'Rotation' });
    await expect(rotation).toContainText('Password half: rotation due');
    await expect(rotation).toContainText('MFA half: rotation due');
    await expect(panel.getByRole('status')).toContainText('Rotation is due');
    await expect(panel.getByRole('group', { name: 'Current MFA code' })).toHaveCount(0);
    await noSeriousAxeViolations(page, 'break-glass: closed');
    await page.screenshot({ path: 'test-results/ui-break-glass-closed.png', fullPage: true });
    await expect(await journalEntriesOfType(page, 'break-glass.closed')).toContainText('break-glass.closed');
    await nav(page, 'Break-glass');
    // Still listed, awaiting rotation.
    await expect(sessionPanel(page).getByRole('list', { name: 'Rotation' })).toContainText('MFA half: rotation due');
  });

  await test.step('the runbook printed for the account: a relative path refused, then the PDF written with the holders and no secret', async () => {
    const form = page.getByRole('form', { name: 'Print the runbook' });
    const path = form.getByLabel('Save the PDF as (absolute path, .pdf)', { exact: true });
    await form.getByLabel('Account', { exact: true }).selectOption(ACCOUNT.id);
    await path.fill('runbook.pdf');
    await form.getByRole('button', { name: 'Print runbook (PDF)' }).click();
    await expect(form.getByRole('alert')).toContainText('must be an absolute path');
    await expect(path).toHaveAttribute('aria-invalid', 'true');
    const file = join(work, `runbook-${ACCOUNT.id}.pdf`);
    await path.fill(file);
    await noSeriousAxeViolations(page, 'break-glass: runbook');
    await form.getByRole('button', { name: 'Print runbook (PDF)' }).click();
    const status = form.getByRole('status');
    await expect(status).toContainText(`Runbook of account ${ACCOUNT.id} written to ${file}.`);
    await expect(status).toContainText(`Password half: ${PAT.name} (${PAT.organisation}). MFA half: ${MO.name} (${MO.organisation}).`);
    await expect(form.getByRole('alert')).toHaveCount(0);
    await expect(path).toHaveAttribute('aria-invalid', 'false');
    expect(readdirSync(work)).toEqual([`runbook-${ACCOUNT.id}.pdf`]);
    const text = flat((await pdfLines(readFileSync(file))).lines);
    expect(text).toContain(`Break-glass runbook: account ${ACCOUNT.id} (${ACCOUNT.alias})`);
    expect(text).toContain(`Password half: ${PAT.name} (${PAT.organisation})`);
    expect(text).toContain(`MFA half: ${MO.name} (${MO.organisation})`);
    expect(text).toContain(`halfkey break-glass use-password --vault DIR --as YOUR_ID --account ${ACCOUNT.id}`);
    for (const secret of [ROOT_PASSWORD, SEED, PAT.passphrase, MO.passphrase, ADMIN.passphrase]) expect(text).not.toContain(secret);
  });

  expect(pageErrors).toEqual([]);
});
