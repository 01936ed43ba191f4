import { expect, test } from './fixtures';
import {
  actAs,
  approveOnProposals,
  createVaultThroughUi,
  custodianRow,
  enrol,
  journalEntriesOfType,
  nav,
  noSeriousAxeViolations,
  proposalPanel,
  proposalsOutcome,
  unlock,
} from './ui-steps';

// Dual control in the UI against the real services: one actor at a time, presence, proposals.
// Nine Argon2id derivations (about a second each) and one wait for the 60 s presence window to lapse
// (the window is the vault's constant; the preview cannot shorten it).
test.setTimeout(200_000);

const ADMIN = { name: 'Ada Admin', organisation: 'Acme Ops', passphrase: 'granite orbit velvet canyon 41' };
const PAT = { name: 'Pat Password', organisation: 'Acme Ops', passphrase: 'lantern meadow quartz ripple 7' };
const RIN = { name: 'Rin Newcomer', organisation: 'Acme Ops', passphrase: 'cobalt prairie nectar beacon 3' };
const LATER = { name: 'Lee Later', organisation: 'Acme Ops', passphrase: 'unused: a proposal takes none' };
const ENROL_RIN = `Enrol ${RIN.name} as mfa-custodian of ${RIN.organisation}`;

test('two custodians for every roster change; one actor at a time, switched only by passphrase; presence counted down and asked for again', async ({
  page,
  preview,
}) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(preview.link);
  await createVaultThroughUi(page, ADMIN);
  const banner = page.getByRole('banner');
  const presence = banner.getByRole('timer', { name: 'Presence' });

  await test.step('the admin unlocks: the header shows who acts, their presence and idle-lock countdowns', async () => {
    await actAs(page, ADMIN);
    await expect(presence).toContainText(/Present for \d+ s/);
    const first = Number(await presence.locator('.countdown-seconds').innerText());
    expect(first).toBeGreaterThan(40);
    expect(first).toBeLessThanOrEqual(60);
    await expect(presence).not.toContainText(`Present for ${first} s`, { timeout: 3000 });
    await expect(banner.getByRole('timer', { name: 'Idle lock' })).toContainText(/Idle lock in [45]:\d\d/);
    await expect(custodianRow(page, ADMIN.name)).toContainText('Acting');
  });

  await test.step('the founding second custodian is enrolled at once; a third is a proposal, counted in the navigation', async () => {
    await enrol(page, PAT, 'Password custodian', true);
    await enrol(page, RIN, 'MFA custodian', false);
    await expect(custodianRow(page, RIN.name)).toHaveCount(0);
    await expect(page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Proposals 1 open' })).toBeVisible({
      timeout: 5000,
    });
  });

  await test.step('the proposer cannot approve their own proposal: the refusal names them', async () => {
    await nav(page, 'Proposals');
    const panel = proposalPanel(page, ENROL_RIN);
    await expect(panel).toContainText(`Proposed by${ADMIN.name} (${ADMIN.organisation})`);
    await expect(panel).toContainText(/Expires in2[34] h \d+ min/);
    await noSeriousAxeViolations(page, 'proposals');
    await page.screenshot({ path: 'test-results/ui-proposals.png', fullPage: true });
    await approveOnProposals(page, ENROL_RIN, ADMIN, RIN);
    const refusal = panel.getByRole('alert');
    await expect(refusal).toContainText('NOT_PERMITTED');
    await expect(refusal).toContainText(`${ADMIN.name} proposed and approved this change alone: a second custodian must approve it`);
    await expect(panel.getByLabel('Your passphrase', { exact: true })).toHaveValue('');
    await expect(panel.getByLabel('New custodian: type your own passphrase', { exact: true })).toHaveValue('');
    await expect(banner).toContainText(`Acting as ${ADMIN.name}`);
  });

  await test.step('the proposer withdraws a proposal of theirs with a reason', async () => {
    await nav(page, 'Custodians');
    const row = custodianRow(page, PAT.name);
    await row.getByRole('button', { name: `Revoke ${PAT.name}…` }).click();
    await row.getByLabel('Reason for revoking', { exact: true }).fill('Moved teams');
    await row.getByRole('button', { name: `Propose revoking ${PAT.name}` }).click();
    await expect(page.getByRole('region', { name: 'Custodians' }).getByRole('status')).toContainText(
      `Proposed: Revoke ${PAT.name}: Moved teams`,
    );
    await expect(row).not.toContainText('revoked');
    await nav(page, 'Proposals');
    const panel = proposalPanel(page, `Revoke ${PAT.name}: Moved teams`);
    await panel.getByLabel('Reason for withdrawing', { exact: true }).fill('Pat stays after all');
    await panel.getByRole('button', { name: 'Withdraw proposal' }).click();
    await expect(proposalsOutcome(page)).toContainText(`Withdrawn: Revoke ${PAT.name}: Moved teams`);
    await expect(panel).toHaveCount(0);
  });

  await test.step('a second custodian approves with their passphrase while the newcomer types theirs; the proposer is locked', async () => {
    const panel = proposalPanel(page, ENROL_RIN);
    await panel.getByLabel('New custodian: type your own passphrase', { exact: true }).fill('short');
    await expect(panel).toContainText('Too short: 5 of at least 12 characters');
    await approveOnProposals(page, ENROL_RIN, PAT, RIN);
    await expect(proposalsOutcome(page)).toContainText(`Approved: ${ENROL_RIN}. ${PAT.name} is acting now; ${ADMIN.name} was locked.`, {
      timeout: 30_000,
    });
    await expect(panel).toHaveCount(0);
    await expect(banner).toContainText(`Acting as ${PAT.name}`);
    await expect(page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Proposals', exact: true })).toBeVisible();
    await nav(page, 'Custodians');
    await expect(custodianRow(page, RIN.name)).toContainText('MFA custodian · Acme Ops');
    await expect(custodianRow(page, ADMIN.name)).toContainText('Locked');
    expect(await page.content()).not.toContain(RIN.passphrase);
  });

  await test.step('switching who acts takes their passphrase, and locks the one acting before', async () => {
    await expect(page.getByRole('button', { name: /^Act as/ })).toHaveCount(0);
    const row = await unlock(page, { name: ADMIN.name, passphrase: 'not the admin passphrase at all' });
    await expect(row.getByLabel(`Passphrase for ${ADMIN.name}`, { exact: true })).toHaveAccessibleDescription(
      `One custodian acts at a time: unlocking ${ADMIN.name} locks ${PAT.name}.`,
    );
    await expect(row.getByRole('alert')).toContainText('BAD_PASSPHRASE', { timeout: 20_000 });
    await expect(banner).toContainText(`Acting as ${PAT.name}`);
    // The first back-off is one second.
    await page.waitForTimeout(1200);
    await unlock(page, ADMIN);
    await expect(page.getByRole('region', { name: 'Custodians' }).getByRole('status')).toContainText(
      `${ADMIN.name} is acting now. ${PAT.name} was locked.`,
      { timeout: 20_000 },
    );
    await expect(banner).toContainText(`Acting as ${ADMIN.name}`);
    await expect(custodianRow(page, PAT.name)).toContainText('Locked');
    await noSeriousAxeViolations(page, 'custodians');
    await expect(await journalEntriesOfType(page, 'custodian.locked')).toContainText('switched');
  });

  await test.step('once the presence window lapses, proposing asks for the passphrase inline, then goes ahead with the countdown shown', async () => {
    await nav(page, 'Custodians');
    await expect(presence).toContainText('Passphrase needed again', { timeout: 75_000 });
    const form = page.getByRole('region', { name: 'Enrol a custodian' });
    await form.getByLabel('Name', { exact: true }).fill(LATER.name);
    await form.getByLabel('Organisation', { exact: true }).fill(LATER.organisation);
    await form.getByRole('button', { name: 'Propose enrolment' }).click();
    const prompt = form.getByRole('form', { name: `Enter ${ADMIN.name}'s passphrase to continue` });
    await expect(prompt).toBeVisible();
    await noSeriousAxeViolations(page, 'presence prompt');
    await page.screenshot({ path: 'test-results/ui-presence.png', fullPage: true });
    await prompt.getByLabel(`${ADMIN.name}'s passphrase`, { exact: true }).fill(ADMIN.passphrase);
    await prompt.getByRole('button', { name: 'Continue' }).click();
    await expect(form.getByRole('status')).toContainText(`Proposed: Enrol ${LATER.name}`, { timeout: 20_000 });
    await expect(prompt).toHaveCount(0);
    await expect(form.getByRole('timer')).toContainText(new RegExp(`${ADMIN.name}'s passphrase counts for \\d+ s more`));
    await expect(presence).toContainText(/Present for \d+ s/);
    expect(await page.content()).not.toContain(ADMIN.passphrase);
  });

  expect(pageErrors).toEqual([]);
});
