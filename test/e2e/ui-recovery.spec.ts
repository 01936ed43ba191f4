import AxeBuilder from '@axe-core/playwright';
import { deviceAccount } from '../../electron/vault/device-key';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { expect, test } from './fixtures';
import { actAs, createVaultThroughUi, enrol } from './ui-steps';

// Argon2id runs for create, two unlocks, one enrolment, a passphrase change (old and new) and the
// two custodians' passphrases at recovery.
test.setTimeout(180_000);

const ADMIN = { name: 'Rae Recover', organisation: 'Acme Ops', passphrase: 'juniper cobalt lagoon thistle 3' };
const PAT = { name: 'Pat Present', organisation: 'Customer plc', passphrase: 'harbour quince meadow 41 tin' };
const PAT_NEW = 'lantern basalt orbit 58 fennel';

test('a vault whose keychain entry is gone: Open explains, a mistyped key or one custodian is refused, the key with two custodians restores access', async ({
  page,
  preview,
}) => {
  await page.goto(preview.link);
  const key = await createVaultThroughUi(page, ADMIN);
  // A second custodian, who then changes their own passphrase from the header (the current one required).
  await actAs(page, ADMIN);
  await enrol(page, PAT, 'Password custodian', true);
  await actAs(page, PAT);
  const banner = page.getByRole('banner');
  await banner.getByRole('button', { name: 'Change my passphrase' }).click();
  const change = banner.getByRole('form', { name: `Change ${PAT.name}'s passphrase` });
  await change.getByLabel('Current passphrase', { exact: true }).fill(PAT.passphrase);
  await change.getByLabel('New passphrase', { exact: true }).fill(PAT_NEW);
  await change.getByLabel('Repeat the new passphrase', { exact: true }).fill(PAT_NEW);
  await change.getByRole('button', { name: 'Change passphrase' }).click();
  await expect(banner.getByRole('status')).toContainText(`${PAT.name}'s passphrase is changed`, { timeout: 30_000 });
  expect(await page.content()).not.toContain(PAT_NEW);

  // The machine loses the device key: the vault is closed and its real keychain entry deleted.
  const vaultId = preview.services.status().vault.id;
  expect(vaultId).not.toBeNull();
  await preview.services.vault.close();
  const keychain = await openKeytarKeychain();
  await keychain.delete(deviceAccount(vaultId ?? ''));
  expect(await keychain.get(deviceAccount(vaultId ?? ''))).toBeNull();

  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Vault' }).click();
  const access = page.getByRole('region', { name: 'Open the vault' });
  await expect(access).toBeVisible({ timeout: 10_000 });
  await access.getByRole('button', { name: 'Open vault' }).click();
  await expect(access.getByRole('alert')).toContainText('recovery key');

  // One mistyped character: the key's check group catches it, and the message says what to do.
  const groups = key.split('-');
  groups[2] = `${groups[2][0] === 'Q' ? 'R' : 'Q'}${groups[2].slice(1)}`;
  await access.getByLabel('Recovery key', { exact: true }).fill(groups.join('-'));
  await access.getByRole('button', { name: 'Recover' }).click();
  await expect(access.getByRole('alert')).toContainText('does not match its check group');
  await expect(access.getByRole('alert')).not.toContainText(groups.join('-'));
  await expect(access.getByLabel('Recovery key', { exact: true })).toHaveValue('');
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
  await page.screenshot({ path: 'test-results/ui-recover.png', fullPage: true });

  // The right key with one custodian: refused, naming the second person needed.
  await access.getByLabel('Recovery key', { exact: true }).fill(key);
  await access.getByLabel('First custodian', { exact: true }).selectOption({ label: `${ADMIN.name} (admin, ${ADMIN.organisation})` });
  await access.getByLabel("First custodian's passphrase", { exact: true }).fill(ADMIN.passphrase);
  await access.getByRole('button', { name: 'Recover' }).click();
  await expect(access.getByRole('alert')).toContainText(
    `besides ${ADMIN.name}, ${PAT.name} (password-custodian) must enter their own passphrase`,
    {
      timeout: 30_000,
    },
  );
  expect(await keychain.get(deviceAccount(vaultId ?? ''))).toBeNull();

  await access.getByLabel('Recovery key', { exact: true }).fill(key);
  await access.getByLabel("First custodian's passphrase", { exact: true }).fill(ADMIN.passphrase);
  await access
    .getByLabel('Second custodian', { exact: true })
    .selectOption({ label: `${PAT.name} (password-custodian, ${PAT.organisation})` });
  await access.getByLabel("Second custodian's passphrase", { exact: true }).fill(PAT_NEW);
  await access.getByRole('button', { name: 'Recover' }).click();
  await expect(page.getByRole('heading', { name: 'Custodians', level: 2 })).toBeFocused({ timeout: 30_000 });
  await expect(page.getByRole('listitem').filter({ hasText: ADMIN.name })).toContainText('Locked');
  expect(await keychain.get(deviceAccount(vaultId ?? ''))).not.toBeNull();
  await expect(page.getByRole('contentinfo', { name: 'Status' })).toContainText(`locked · ${(vaultId ?? '').slice(0, 8)}`, {
    timeout: 10_000,
  });
  expect(await page.content()).not.toContain(key);
  for (const secret of [ADMIN.passphrase, PAT.passphrase, PAT_NEW]) expect(await page.content()).not.toContain(secret);
});
