import { describe, expect, it, vi } from 'vitest';
import { appState, recorded, StandInBrowserWindow } from '../support/electron-stand-in';

// The recording stand-in for electron, told that another Halfkey already holds the lock.
vi.mock('electron', async () => (await import('../support/electron-stand-in')).electronStandIn);

describe('main process without the single-instance lock (recording stand-in for electron)', () => {
  it('quits at once: no scheme, no protocol, no services, no IPC, no window', async () => {
    appState.singleInstanceLock = false;
    const main = await import('../../electron/main/main');
    await main.started;
    expect(recorded.singleInstanceLockRequests).toBe(1);
    expect(recorded.quitCalls).toBe(1);
    expect(recorded.privilegedSchemes).toEqual([]);
    expect(recorded.protocolHandlers.size).toBe(0);
    expect(recorded.ipcHandlers.size).toBe(0);
    expect(StandInBrowserWindow.created).toEqual([]);
  });
});
