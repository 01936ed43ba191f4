import { expect, test } from './fixtures';

/** The status bar's shortening of ids and hashes (renderer/src/components/shortHash.ts, used by renderer/src/shell/StatusBar.tsx), restated for the assertions. */
function shortHashForTest(value: string, length: number): string {
  return value.length > length ? `${value.slice(0, length)}…` : value;
}

test('the status bar follows the real vault: none, then its state, id and journal head once one exists', async ({ page, preview }) => {
  await page.goto(preview.link);
  const bar = page.getByRole('contentinfo', { name: 'Status' }).getByRole('status');
  await expect(bar).toContainText('Vaultnone');
  await expect(bar).toContainText('Journalempty');

  // A real vault on the real keychain (one Argon2id derivation); the page learns of it by polling app:status.
  await preview.services.vault.create({
    admin: { name: 'Ada Admin', organisation: 'Example Ops', passphrase: 'granite orbit lantern velvet 42' },
  });
  const status = preview.services.status();
  expect(status.vault.id).not.toBeNull();
  expect(status.vault.state).not.toBe('none');
  await expect(bar).toContainText(`Vault${status.vault.state} · ${shortHashForTest(status.vault.id ?? '', 8)}`, { timeout: 10_000 });
  // Creating the vault is itself journaled, so the head is no longer empty.
  expect(status.journal.seq).not.toBeNull();
  await expect(bar).toContainText(`Journal#${status.journal.seq} · ${shortHashForTest(status.journal.hash ?? '', 12)}`);
  // The full values are one hover away, for reading out or comparing with a CLI report.
  await expect(bar.getByTitle(status.vault.id ?? '', { exact: true })).toBeVisible();
});
