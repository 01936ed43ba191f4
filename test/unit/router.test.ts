import { describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import type { AppStatus } from '../../electron/app/app-services';
import { createRouter, type HandlerTable, type RouterLog } from '../../electron/app/router';

const status: AppStatus = {
  version: '9.9.9',
  mode: 'preview',
  vault: { state: 'locked', id: 'vault-1', keychainBackend: 'secret-service' },
  journal: { seq: 4, hash: 'ab'.repeat(32) },
  sync: { state: 'idle', pending: 2, lastError: null, serverFingerprint: 'cd'.repeat(16) },
};

/** A handler table whose app:status handler is replaced per test; the other channels answer normally. */
function table(appStatus: HandlerTable['app:status']): HandlerTable {
  return new Proxy({} as HandlerTable, {
    get: (_, channel) => (channel === 'app:status' ? appStatus : () => Promise.reject(new Error(`unused channel ${String(channel)}`))),
  });
}

function recorder(): { log: RouterLog; events: { channel: string; code: string; message: string }[] } {
  const events: { channel: string; code: string; message: string }[] = [];
  return { log: (e) => events.push(e), events };
}

describe('the API router', () => {
  it('runs the handler and returns its validated value', async () => {
    const router = createRouter(table(() => status));
    expect(await router.call('app:status', {}, { adapter: 'test' })).toEqual({ ok: true, value: status });
  });

  it('refuses an unknown channel with UNKNOWN_CHANNEL and never runs a handler', async () => {
    let ran = false;
    const router = createRouter(table(() => ((ran = true), status)));
    const result = await router.call('vault:exfiltrate', {}, { adapter: 'test' });
    expect(result).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(!result.ok && result.error.message).toContain('vault:exfiltrate');
    expect(await router.call(42, {}, { adapter: 'test' })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(await router.call('toString', {}, { adapter: 'test' })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(ran).toBe(false);
  });

  it('refuses a payload failing the schema with INVALID_PAYLOAD naming the field', async () => {
    let ran = false;
    const { log, events } = recorder();
    const router = createRouter(
      table(() => ((ran = true), status)),
      log,
    );
    const result = await router.call('app:status', { sneaky: 'passphrase-123' }, { adapter: 'test' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('INVALID_PAYLOAD');
    expect(result.error.message).toContain('app:status');
    expect(result.error.message).toContain('sneaky');
    expect(ran).toBe(false);
    // The payload's values never reach the log.
    expect(JSON.stringify(events)).not.toContain('passphrase-123');
    expect(await router.call('app:status', 'not an object', { adapter: 'test' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD' },
    });
  });

  it('turns a HalfkeyError into a typed error with its code, message and detail', async () => {
    const router = createRouter(
      table(() => {
        throw new HalfkeyError('VAULT_LOCKED', 'The vault is locked: unlock it first.', { item: 'password' });
      }),
    );
    expect(await router.call('app:status', {}, { adapter: 'test' })).toEqual({
      ok: false,
      error: { code: 'VAULT_LOCKED', message: 'The vault is locked: unlock it first.', detail: { item: 'password' } },
    });
  });

  it('turns an unexpected error into INTERNAL without leaking its message to the page or the log', async () => {
    const { log, events } = recorder();
    const router = createRouter(
      table(() => {
        throw new Error('db at /secret/path failed with key 0xdeadbeef');
      }),
      log,
    );
    const result = await router.call('app:status', {}, { adapter: 'test' });
    expect(result).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(JSON.stringify(result)).not.toContain('deadbeef');
    expect(JSON.stringify(events)).not.toContain('deadbeef');
    expect(events).toEqual([{ channel: 'app:status', code: 'INTERNAL', message: 'Error' }]);
  });

  it('enforces the response schema: a handler returning the wrong shape gives INTERNAL, not bad data', async () => {
    const router = createRouter(table(() => ({ ...status, vault: { ...status.vault, state: 'open' } }) as unknown as AppStatus));
    const result = await router.call('app:status', {}, { adapter: 'test' });
    expect(result).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });

  it('awaits asynchronous handlers', async () => {
    const router = createRouter(table(async () => status));
    expect(await router.call('app:status', {}, { adapter: 'test' })).toEqual({ ok: true, value: status });
  });
});
