import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { readQrDataUrl } from '../support/read-qr';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { createRouter, type ApiRouter } from '../../electron/app/router';

const PASSPHRASE = 'granite meadow quartz 7';
const logged: string[] = [];
const context = { adapter: 'test' } as const;
let dir: string;
let services: AppServices;
let router: ApiRouter;

async function call(
  channel: string,
  payload: unknown,
): Promise<{ ok: boolean; value?: Record<string, unknown>; error?: { code: string; message: string } }> {
  return (await router.call(channel, payload, context)) as never;
}

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  dir = mkdtempSync(join(tmpdir(), 'halfkey-vault-api-'));
  services = await openAppServices({ mode: 'preview', vaultDir: dir });
  router = createRouter(createHandlerTable(services), (event) => logged.push(JSON.stringify(event)));
});

afterAll(async () => {
  const id = services.vault.current()?.id;
  await services.close();
  if (id) await (await openKeytarKeychain()).delete(deviceAccount(id));
  rmSync(dir, { recursive: true, force: true });
});

describe('vault channels through the router', () => {
  let adminId: string;

  it('status says none before a vault exists, and vault calls name the fix', async () => {
    expect(services.status().vault).toEqual({ state: 'none', id: null, keychainBackend: null });
    const list = await call('custodian:list', {});
    expect(list.error?.code).toBe('VAULT_NOT_INITIALISED');
    expect(list.error?.message).toMatch(/vault:create/);
  });

  it('vault:create returns the recovery key and QR once; status reports the vault and backend', async () => {
    const created = await call('vault:create', { adminName: 'Ada Admin', organisation: 'Provider Ltd', passphrase: PASSPHRASE });
    expect(created.ok).toBe(true);
    adminId = String(created.value?.adminId);
    expect(created.value?.recoveryKey).toMatch(/^HK1-/);
    expect(created.value?.recoveryQr).toMatch(/^data:image\/png;base64,/);
    // The QR really encodes the recovery key: decode the PNG with zbarimg.
    expect(readQrDataUrl(String(created.value?.recoveryQr))).toBe(created.value?.recoveryKey);
    const status = services.status();
    expect(status.vault).toMatchObject({ state: 'locked', id: created.value?.vaultId });
    expect(status.vault.keychainBackend).toMatch(/^Secret Service/);
    expect(status.journal.seq).not.toBeNull();
    const again = await call('vault:create', { adminName: 'X', organisation: 'Y', passphrase: PASSPHRASE });
    expect(again.error?.code).toBe('CONFLICT');
  });

  it('unlock, list, lock; a wrong passphrase fails with BAD_PASSPHRASE and is never logged', async () => {
    const wrong = await call('custodian:unlock', { custodianId: adminId, passphrase: 'wrong wrong wrong wrong' });
    expect(wrong.error?.code).toBe('BAD_PASSPHRASE');
    const early = await call('custodian:unlock', { custodianId: adminId, passphrase: PASSPHRASE });
    expect(early.error?.code).toBe('BACKOFF');
    await new Promise((r) => setTimeout(r, 1100));
    const unlocked = await call('custodian:unlock', { custodianId: adminId, passphrase: PASSPHRASE });
    expect(unlocked.value).toMatchObject({ id: adminId, role: 'admin', unlocked: true });
    expect(services.status().vault.state).toBe('unlocked');
    const list = await call('custodian:list', {});
    expect(list.value?.custodians).toEqual([expect.objectContaining({ id: adminId, unlocked: true })]);
    const weak = await call('custodian:enrol', {
      by: adminId,
      name: 'Carol',
      organisation: 'Customer plc',
      role: 'mfa-custodian',
      passphrase: 'carol',
    });
    expect(weak.error?.code).toBe('INVALID_PAYLOAD');
    const locked = await call('vault:lock', {});
    expect(locked.value).toEqual({ locked: [adminId] });
    expect(services.status().vault.state).toBe('locked');
    const after = await call('custodian:enrol', {
      by: adminId,
      name: 'Carol',
      organisation: 'Customer plc',
      role: 'mfa-custodian',
      passphrase: 'another long passphrase',
    });
    expect(after.error?.code).toBe('CUSTODIAN_LOCKED');
    const all = logged.join('\n');
    for (const secret of [PASSPHRASE, 'wrong wrong', 'another long passphrase']) expect(all).not.toContain(secret);
    expect(all).toContain('BAD_PASSPHRASE');
  });

  it('a reopened app finds the vault open from the keychain', async () => {
    await services.close();
    services = await openAppServices({ mode: 'preview', vaultDir: dir });
    router = createRouter(createHandlerTable(services));
    expect(services.status().vault).toMatchObject({ state: 'locked', id: services.vault.current()?.id });
    expect(services.vault.current()).not.toBeNull();
  });
});
