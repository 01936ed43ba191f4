import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { HalfkeyApi } from '../../shared/api/bridge';
import { CHANNEL_NAMES, methodName } from '../../shared/api/contract';
import { electronStandIn, recorded } from '../support/electron-stand-in';

// The preload runs against the recording stand-in for electron: contextBridge records what is
// exposed, ipcRenderer.invoke records what is sent and resolves with a plain value.
vi.mock('electron', async () => (await import('../support/electron-stand-in')).electronStandIn);

const { buildHalfkeyApi } = await import('../../electron/preload/preload');

function exposed(): Record<string, unknown> {
  const api = recorded.exposedInMainWorld.get('halfkey');
  if (typeof api !== 'object' || api === null) throw new Error('window.halfkey was not exposed');
  return api as Record<string, unknown>;
}

describe('preload (recording stand-in for electron)', () => {
  it('exposes window.halfkey and nothing else', () => {
    expect([...recorded.exposedInMainWorld.keys()]).toEqual(['halfkey']);
  });

  it('has exactly one method per channel, named by methodName(), and nothing else', () => {
    const api = exposed();
    const expected = CHANNEL_NAMES.map(methodName).sort();
    expect(Object.keys(api).sort()).toEqual(expected);
    expect(new Set(expected).size).toBe(CHANNEL_NAMES.length);
    for (const name of expected) expect(typeof api[name], name).toBe('function');
    expect(Object.isFrozen(api)).toBe(true);
    expect(Object.getPrototypeOf(api)).toBe(Object.prototype);
    expect(Object.getOwnPropertySymbols(api)).toEqual([]);
  });

  it('matches the HalfkeyApi type, method for method', () => {
    const api = buildHalfkeyApi(async () => ({ ok: true, value: null }));
    expectTypeOf(api).toEqualTypeOf<HalfkeyApi>();
    // The runtime names are exactly the type's keys, spelled out for the channels known today.
    const typed: (keyof HalfkeyApi)[] = ['appStatus'];
    for (const name of typed) expect(Object.keys(api)).toContain(name);
  });

  it('sends exactly the request on the channel and returns only what main resolved', async () => {
    const api = exposed();
    recorded.ipcInvocations.length = 0;
    const appStatus = api.appStatus as (...args: unknown[]) => Promise<unknown>;
    const result = await appStatus({}, 'extra argument the page tried to smuggle');
    expect(recorded.ipcInvocations).toEqual([{ channel: 'app:status', args: [{}] }]);
    expect(result).toEqual({ ok: true, value: { echoedChannel: 'app:status', argCount: 1 } });
  });

  it('never subscribes to ipcRenderer events, so no IPC event object can reach the page', () => {
    expect(recorded.ipcRendererSubscriptions).toEqual([]);
    for (const value of Object.values(exposed())) {
      expect(value).not.toBe(electronStandIn.ipcRenderer);
      expect(value).not.toBe(electronStandIn.ipcRenderer.invoke);
    }
  });

  it('turns a broken IPC link into a typed INTERNAL result instead of throwing into the page', async () => {
    const api = buildHalfkeyApi(() => Promise.reject(new Error('ipc internals: /home/user/secret-path')));
    const result = await api.appStatus({});
    expect(result).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'app:status could not reach the Halfkey main process; restart Halfkey.' },
    });
    expect(JSON.stringify(result)).not.toContain('secret-path');
  });
});
