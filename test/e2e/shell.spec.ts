import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { CHANNEL_NAMES, methodName } from '../../shared/api/contract';
import { CONTENT_SECURITY_POLICY as CSP } from '../../electron/main/security';
import { expect, test } from './fixtures';

/** Collects CSP violations and page errors, so a shell that only works with inline code fails. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return problems;
}

test('the shell renders through the preview adapter and the status bar shows the real app:status', async ({ page, preview }) => {
  const problems = watchProblems(page);
  const response = await page.goto(preview.link);
  expect(response?.status()).toBe(200);

  await expect(page.getByRole('banner').getByRole('heading', { name: 'Halfkey', level: 1 })).toBeVisible();
  const status = preview.services.status();
  const bar = page.getByRole('contentinfo', { name: 'Status' }).getByRole('status');
  await expect(bar).toContainText(`Vault${status.vault.state}`);
  await expect(bar).toContainText(status.journal.seq === null ? 'Journalempty' : `Journal#${status.journal.seq}`);
  await expect(bar).toContainText(`Sync${status.sync.state} · ${status.sync.pending} pending`);
  await expect(bar).toContainText(`Modepreview · v${status.version}`);
  const vault = page.getByRole('region', { name: 'Vault', exact: true });
  await expect(vault).toContainText(status.vault.state === 'none' ? 'not created yet' : status.vault.state);
  await expect(page.getByRole('alert')).toHaveCount(0);

  // The token left the address bar (and history) as soon as the bridge read it.
  expect(page.url()).toBe(preview.url);
  expect(problems).toEqual([]);
  await page.screenshot({ path: 'test-results/shell.png', fullPage: true });
});

test('window.halfkey has exactly one method per channel and is frozen', async ({ page, preview }) => {
  await page.goto(preview.link);
  const shape = await page.evaluate(() => {
    const api = (window as unknown as { halfkey: Record<string, unknown> }).halfkey;
    return {
      keys: Object.keys(api).sort(),
      frozen: Object.isFrozen(api),
      allFunctions: Object.values(api).every((v) => typeof v === 'function'),
    };
  });
  expect(shape).toEqual({ keys: CHANNEL_NAMES.map(methodName).sort(), frozen: true, allFunctions: true });
  const result = await page.evaluate(() =>
    (window as unknown as { halfkey: { appStatus(r: object): Promise<unknown> } }).halfkey.appStatus({}),
  );
  expect(result).toMatchObject({ ok: true, value: { mode: 'preview' } });
});

test('the document carries the CSP and the hardening headers', async ({ page, preview }) => {
  const response = await page.goto(preview.link);
  const headers = response?.headers() ?? {};
  expect(headers['content-security-policy']).toBe(CSP);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('no-referrer');
  // The CSP is enforced: a script injected inline does not run.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'document.body.dataset.injected = "yes"';
    document.body.append(script);
  });
  expect(await page.evaluate(() => document.body.dataset.injected ?? 'blocked')).toBe('blocked');
});

test('the shell has no axe-core accessibility violations', async ({ page, preview }) => {
  await page.goto(preview.link);
  await expect(page.getByRole('status')).toContainText('Vault');
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});

test('the shell is keyboard-usable: Tab reaches the section navigation', async ({ page, preview }) => {
  await page.goto(preview.link);
  const focused = page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Vault' });
  // Tab only once the app has rendered: pressed earlier, focus lands on the empty document.
  await expect(focused).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(focused).toBeFocused();
  await expect(focused).toHaveAttribute('aria-current', 'page');
});

test('reloading without the token cannot call the API: UNAUTHENTICATED is shown', async ({ page, preview }) => {
  await page.goto(preview.link);
  await expect(page.getByRole('status')).toContainText('Vault');
  await page.reload();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('UNAUTHENTICATED');
  await expect(alert).toContainText('npm start');
  await expect(page.getByRole('region', { name: 'Vault', exact: true })).toContainText('could not be read');
  await page.screenshot({ path: 'test-results/shell-unauthenticated.png', fullPage: true });
  // The error state is as accessible as the normal one.
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  const result = await page.evaluate(() =>
    (window as unknown as { halfkey: { appStatus(r: object): Promise<unknown> } }).halfkey.appStatus({}),
  );
  expect(result).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
});

test('a second page opening the same link is refused: the token is one-time', async ({ page, context, preview }) => {
  await page.goto(preview.link);
  await expect(page.getByRole('status')).toContainText('Vault');
  const second = await context.newPage();
  await second.goto(preview.link);
  await expect(second.getByRole('alert')).toContainText('UNAUTHENTICATED');
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('when the preview stops, calls resolve to a typed error instead of hanging, and the shell says so', async ({ page, preview }) => {
  await page.goto(preview.link);
  await expect(page.getByRole('status')).toContainText('Vault');
  await preview.stop();
  const result = await page.evaluate(() =>
    (window as unknown as { halfkey: { appStatus(r: object): Promise<unknown> } }).halfkey.appStatus({}),
  );
  expect(result).toMatchObject({
    ok: false,
    error: { code: 'INTERNAL', message: expect.stringContaining('connection to the Halfkey preview closed') },
  });
  await expect(page.getByRole('alert')).toContainText('npm start', { timeout: 10_000 });
});
