import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../shared/api/result';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { freshAccountId, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';

// The custody channels through the real router and app services (the same table both adapters
// mount), on a real vault opened from its folder with the real keychain.
const PASSWORD = 'Api-Level-Passw0rd!';
const SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

let f: CustodyFixture;
let services: AppServices;
let router: ApiRouter;

async function call(channel: string, payload: unknown): Promise<ApiResult<Record<string, unknown>>> {
  return (await router.call(channel, payload, { adapter: 'test' })) as ApiResult<Record<string, unknown>>;
}
async function value(channel: string, payload: unknown): Promise<Record<string, unknown>> {
  const result = await call(channel, payload);
  if (!result.ok) throw new Error(`${channel} failed: ${result.error.code} ${result.error.message}`);
  return result.value;
}

beforeAll(async () => {
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  // One writer per vault: the app services below open it from its folder, so the fixture lets it go.
  await f.custody.close();
  f.vault.close();
  services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
  router = createRouter(createHandlerTable(services));
  for (const name of ['admin', 'pat', 'mia'] as const)
    await value('custodian:unlock', { custodianId: f.ids[name], passphrase: PASSPHRASES[name] });
}, 180_000);

afterAll(async () => {
  await services?.close();
  await f?.close();
});

describe('custody over the API router', () => {
  it('splits the halves: the MFA custodian is refused the password, the password custodian the codes', async () => {
    const accountId = freshAccountId();
    await value('custody:account-add', {
      by: f.ids.admin,
      accountId,
      alias: 'api',
      rootEmail: 'root@example.com',
      organisation: 'Customer',
    });
    await value('custody:assign', { by: f.ids.admin, accountId, item: 'password', custodianId: f.ids.pat });
    await value('custody:assign', { by: f.ids.admin, accountId, item: 'mfa', custodianId: f.ids.mia });
    await value('custody:half-set', { by: f.ids.pat, accountId, item: 'password', secret: { kind: 'password', password: PASSWORD } });
    await value('custody:half-set', { by: f.ids.mia, accountId, item: 'mfa', secret: { kind: 'totp', seed: SEED } });

    const refused = await call('custody:checkout', { by: f.ids.mia, accountId, item: 'password', reason: 'try', leaseSeconds: 60 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'POLICY_REFUSED', detail: { item: 'password', accountId } } });

    const pw = await value('custody:checkout', { by: f.ids.pat, accountId, item: 'password', reason: 'incident', leaseSeconds: 60 });
    const shown = await value('custody:reveal', { by: f.ids.pat, checkoutId: pw.checkoutId, seconds: 10 });
    expect(shown.password).toBe(PASSWORD);
    expect(await call('custody:reveal', { by: f.ids.mia, checkoutId: pw.checkoutId, seconds: 10 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED' },
    });
    expect(await call('custody:totp-code', { by: f.ids.pat, checkoutId: pw.checkoutId })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });
    expect(await call('custody:copy', { by: f.ids.pat, checkoutId: pw.checkoutId, seconds: 10 })).toMatchObject({
      ok: false,
      error: { code: 'UNSUPPORTED', message: expect.stringMatching(/use reveal/) },
    });

    const mfa = await value('custody:checkout', { by: f.ids.mia, accountId, item: 'mfa', reason: 'login', leaseSeconds: 60 });
    const code = await value('custody:totp-code', { by: f.ids.mia, checkoutId: mfa.checkoutId });
    expect(code.code).toMatch(/^\d{6}$/);
    expect(Object.keys(code).sort()).toEqual(['code', 'digits', 'period', 'remainingMs']);
    expect(await call('custody:reveal', { by: f.ids.mia, checkoutId: mfa.checkoutId, seconds: 10 })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });

    const listed = await value('custody:account-list', { search: accountId });
    expect(listed).toMatchObject({ total: 1, accounts: [{ accountId, openCheckouts: 2 }] });
    // The two refusals (policy, someone else's checkout) went to the journal through the app's own
    // vault connection; calls of the wrong kind (codes of a password checkout, copy without a clipboard) are plain errors.
    const refusals = services.vault.current()?.journal.query({ type: 'custody.refused', account: accountId }) ?? [];
    expect(refusals.map((e) => [e.actor, e.data.action])).toEqual([
      [f.ids.mia, 'checkout'],
      [f.ids.mia, 'reveal'],
    ]);
  });

  it('rejects bad input with a clear error naming the field and stores nothing', async () => {
    const before = (await value('custody:account-list', { limit: 10_000 })).total;
    const bad = await call('custody:account-add', {
      by: f.ids.admin,
      accountId: '12345',
      alias: 'x',
      rootEmail: 'root@example.com',
      organisation: 'O',
    });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field: 'accountId' } } });
    expect(bad.ok ? '' : bad.error.message).toMatch(/12 digits/);
    const seedError = await call('custody:half-set', {
      by: f.ids.mia,
      accountId: '123456789012',
      item: 'mfa',
      secret: { kind: 'totp', seed: 'QWERTYUIOPQWERTY189' },
    });
    expect(seedError).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', detail: { field: 'seed', reason: 'OTP_SECRET_INVALID_CHARACTER' } },
    });
    expect(JSON.stringify(seedError)).not.toContain('QWERTYUIOP');
    expect((await value('custody:account-list', { limit: 10_000 })).total).toBe(before);
  });

  it('says VAULT_LOCKED when no vault is open', async () => {
    const empty = await openAppServices({ mode: 'preview', vaultDir: `${f.dir}-none` });
    try {
      const r = await createRouter(createHandlerTable(empty)).call('custody:account-list', {}, { adapter: 'test' });
      expect(r).toMatchObject({ ok: false, error: { code: 'VAULT_LOCKED' } });
    } finally {
      await empty.close();
    }
  });
});
