import AxeBuilder from '@axe-core/playwright';
import type { Locator, Page } from '@playwright/test';
import { expect } from './fixtures';

/** A custodian as the specs type them in. */
export interface Person {
  readonly name: string;
  readonly organisation: string;
  readonly passphrase: string;
}

/** Argon2id runs in the main process for every unlock, enrolment and approval: allow it time. */
const DERIVATION_MS = 20_000;

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
  await expect(custodianRow(page, admin.name)).toBeVisible();
  return key;
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function noSeriousAxeViolations(page: Page, view: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${view}: ${v.id}: ${v.help}`);
  expect(serious).toEqual([]);
}

export async function nav(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name }).click();
}

/** The Custodians screen's row of one custodian (found by the name line, not by hints naming them). */
export function custodianRow(page: Page, name: string): Locator {
  return page.getByRole('listitem').filter({ has: page.getByText(name, { exact: true }) });
}

/** Opens a custodian's unlock form on the Custodians screen and submits the passphrase; returns their row. */
export async function unlock(page: Page, who: { readonly name: string; readonly passphrase: string }): Promise<Locator> {
  const row = custodianRow(page, who.name);
  const form = row.getByRole('form', { name: `Unlock ${who.name}` });
  if (!(await form.isVisible())) await row.getByRole('button', { name: `Unlock ${who.name}…` }).click();
  await form.getByLabel(`Passphrase for ${who.name}`, { exact: true }).fill(who.passphrase);
  await form.getByRole('button', { name: 'Unlock' }).click();
  return row;
}

/** Makes `who` the acting custodian: with their passphrase, as a person must (one actor at a time). */
export async function actAs(page: Page, who: Person): Promise<void> {
  await nav(page, 'Custodians');
  const banner = page.getByRole('banner');
  if ((await banner.innerText()).includes(`Acting as ${who.name}`)) return;
  await unlock(page, who);
  await expect(banner).toContainText(`Acting as ${who.name}`, { timeout: DERIVATION_MS });
}

/**
 * The acting admin enrols a custodian on the Custodians screen: the founding second custodian types
 * their own passphrase; any later one is proposed (approve it with approveOnProposals).
 */
export async function enrol(page: Page, who: Person, role: string, founding: boolean): Promise<Locator> {
  const form = page.getByRole('region', { name: 'Enrol a custodian' });
  await form.getByLabel('Name', { exact: true }).fill(who.name);
  await form.getByLabel('Organisation', { exact: true }).fill(who.organisation);
  await form.getByLabel('Role', { exact: true }).selectOption({ label: role });
  if (founding) {
    await form.getByLabel('Their passphrase', { exact: true }).fill(who.passphrase);
    await form.getByRole('button', { name: 'Enrol custodian' }).click();
    await expect(form.getByRole('status')).toContainText(`Enrolled ${who.name}`, { timeout: DERIVATION_MS });
  }
  // With the founding pair enrolled, the form proposes and takes no passphrase (the typed one is gone with its field).
  await expect(form.getByLabel('Their passphrase', { exact: true })).toHaveCount(0);
  if (!founding) {
    await form.getByRole('button', { name: 'Propose enrolment' }).click();
    await expect(form.getByRole('status')).toContainText(`Proposed: Enrol ${who.name}`);
  }
  return form;
}

/** The Proposals screen's panel of the open proposal whose summary starts with `summary`. */
export function proposalPanel(page: Page, summary: string): Locator {
  return page.getByRole('region', { name: summary });
}

/**
 * A second custodian approves a proposal under Proposals with their own passphrase (and, for an
 * enrolment, the newcomer types theirs). Returns the panel; the caller checks the outcome.
 */
export async function approveOnProposals(page: Page, summary: string, approver: Person, newcomer?: Person): Promise<Locator> {
  await nav(page, 'Proposals');
  const panel = proposalPanel(page, summary);
  const approvers = panel.getByLabel('Approving custodian (you)', { exact: true });
  await approvers.selectOption((await approvers.locator('option', { hasText: `${approver.name} — ` }).getAttribute('value')) ?? '');
  await panel.getByLabel('Your passphrase', { exact: true }).fill(approver.passphrase);
  if (newcomer !== undefined) await panel.getByLabel('New custodian: type your own passphrase', { exact: true }).fill(newcomer.passphrase);
  await panel.getByRole('button', { name: 'Approve' }).click();
  return panel;
}

/** The outcome line of the Proposals screen. */
export function proposalsOutcome(page: Page): Locator {
  return page.getByRole('region', { name: 'Proposals', exact: true }).getByRole('status');
}

/** The Journal screen's entries, filtered by one entry type. */
export async function journalEntriesOfType(page: Page, type: string): Promise<Locator> {
  await nav(page, 'Journal');
  const journal = page.getByRole('region', { name: 'Journal' });
  await journal.getByLabel('Type', { exact: true }).fill(type);
  await journal.getByRole('button', { name: 'Filter' }).click();
  return journal.getByRole('table', { name: 'Journal entries' });
}

/**
 * Assigns an item of the open account to a custodian (enrolled with `role`) on the account's
 * "Assign a custody item" form; returns the form, whose status or alert the caller checks.
 */
export async function assignThroughUi(page: Page, item: 'password' | 'mfa', who: Person, role: string): Promise<Locator> {
  const assign = page.getByRole('region', { name: 'Assign a custody item' });
  await assign.getByLabel('Item', { exact: true }).selectOption(item);
  await assign.getByLabel('Custodian', { exact: true }).selectOption({ label: `${who.name} — ${role}, ${who.organisation}` });
  await assign.getByRole('button', { name: 'Assign' }).click();
  return assign;
}

/**
 * The acting admin proposes an organisation on the Organisations screen and `approver` approves it
 * under Proposals with their own passphrase (they become the actor). Custodians after the founding
 * pair can only be enrolled into an organisation the vault already has.
 */
export async function addOrganisationThroughUi(page: Page, name: string, approver: Person): Promise<void> {
  await nav(page, 'Organisations');
  const form = page.getByRole('region', { name: 'Propose an organisation' });
  await form.getByLabel('Organisation name', { exact: true }).fill(name);
  await form.getByRole('button', { name: 'Propose organisation' }).click();
  await expect(form.getByRole('status')).toContainText(`Proposed: Add organisation ${name}`);
  await approveOnProposals(page, `Add organisation ${name}`, approver);
  await expect(proposalsOutcome(page)).toContainText(`Approved: Add organisation ${name}`, { timeout: DERIVATION_MS });
}
