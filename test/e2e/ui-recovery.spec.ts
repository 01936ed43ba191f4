import AxeBuilder from '@axe-core/playwright';
import { deviceAccount } from '../../electron/vault/device-key';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { expect, test } from './fixtures';
import { createVaultThroughUi } from './ui-steps';

// One Argon2id derivation (create); recovery itself re-wraps the device key without a KDF.
test.setTimeout(90_000);

const ADMIN = { name: 'Rae Recover', organisation: 'Acme Ops', passphrase: 'juniper cobalt lagoon thistle 3' };

test('a vault whose keychain entry is gone: Open explains, a mistyped recovery key is refused, the right one restores access', async ({
  page,
  preview,
}) => {
  await page.goto(preview.link);
  const key = await createVaultThroughUi(page, ADMIN);

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

  await access.getByLabel('Recovery key', { exact: true }).fill(key);
  await access.getByRole('button', { name: 'Recover' }).click();
  await expect(page.getByRole('heading', { name: 'Custodians', level: 2 })).toBeFocused();
  await expect(page.getByRole('listitem').filter({ hasText: ADMIN.name })).toContainText('Locked');
  expect(await keychain.get(deviceAccount(vaultId ?? ''))).not.toBeNull();
  await expect(page.getByRole('contentinfo', { name: 'Status' })).toContainText(`locked · ${(vaultId ?? '').slice(0, 8)}`, {
    timeout: 10_000,
  });
  expect(await page.content()).not.toContain(key);
});
