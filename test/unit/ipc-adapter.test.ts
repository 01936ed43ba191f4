import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { mountIpcAdapter, type IpcMainLike, type SenderEvent, type SenderFrame } from '../../electron/main/ipc-adapter';
import { createRouter, type ApiRouter, type CallContext } from '../../electron/app/router';
import { CHANNEL_NAMES } from '../../shared/api/contract';
import type { ApiResult } from '../../shared/api/result';

type Listener = (event: SenderEvent, ...args: unknown[]) => Promise<ApiResult<unknown>>;

let work: string;
let services: AppServices;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'halfkey-ipc-'));
  services = await openAppServices({ mode: 'electron', vaultDir: join(work, 'vault') });
});

afterAll(async () => {
  await services.close();
  rmSync(work, { recursive: true, force: true });
});

/** Mounts the adapter on a plain ipcMain-shaped recorder, over the real router and services, counting router calls. */
function mount(): {
  handlers: Map<string, Listener>;
  calls: { channel: unknown; payload: unknown; context: CallContext }[];
  refusals: string[];
} {
  const handlers = new Map<string, Listener>();
  const ipcMain: IpcMainLike = {
    handle(channel, listener) {
      if (handlers.has(channel)) throw new Error(`channel ${channel} registered twice`);
      handlers.set(channel, listener);
    },
  };
  const real = createRouter(createHandlerTable(services));
  const calls: { channel: unknown; payload: unknown; context: CallContext }[] = [];
  const router: ApiRouter = {
    call(channel, payload, context) {
      calls.push({ channel, payload, context });
      return real.call(channel, payload, context);
    },
  };
  const refusals: string[] = [];
  mountIpcAdapter(ipcMain, router, (entry) => refusals.push(`${entry.channel}: ${entry.reason}`));
  return { handlers, calls, refusals };
}

const topFrame = (url: string): SenderFrame => ({ url, parent: null });

function statusHandler(handlers: Map<string, Listener>): Listener {
  const handler = handlers.get('app:status');
  if (!handler) throw new Error('app:status was not registered');
  return handler;
}

describe('the Electron IPC adapter', () => {
  it('registers exactly one handler for every channel of the contract', () => {
    const { handlers } = mount();
    expect([...handlers.keys()].sort()).toEqual([...CHANNEL_NAMES].sort());
  });

  it('passes a call from the app top frame to the router and returns its result unchanged', async () => {
    const { handlers, calls } = mount();
    const result = await statusHandler(handlers)({ senderFrame: topFrame('app://halfkey/index.html') }, {});
    expect(result).toEqual({ ok: true, value: services.status() });
    expect(result.ok && (result.value as { mode: string }).mode).toBe('electron');
    expect(calls).toEqual([{ channel: 'app:status', payload: {}, context: { adapter: 'electron' } }]);
  });

  it('hands the router the payload only, never the IPC event', async () => {
    const { handlers, calls } = mount();
    const event = { senderFrame: topFrame('app://halfkey/'), sender: { marker: 'ipc-event-internals' } };
    const result = await statusHandler(handlers)(event, { unexpected: 1 });
    // The router validated the payload it was given (a strict schema refuses the extra field)…
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    // …and nothing it saw carries the event.
    expect(JSON.stringify(calls)).not.toContain('ipc-event-internals');
    expect(calls[0]?.payload).toEqual({ unexpected: 1 });
  });

  const refused: [string, SenderEvent][] = [
    ['a missing sender frame', { senderFrame: null }],
    ['another origin', { senderFrame: topFrame('https://evil.example/') }],
    ['a look-alike host (app://halfkey.evil)', { senderFrame: topFrame('app://halfkey.evil/index.html') }],
    ['the app host as a path (app://evil/halfkey)', { senderFrame: topFrame('app://evil/halfkey') }],
    ['credentials in the URL (app://halfkey@evil)', { senderFrame: topFrame('app://halfkey@evil/') }],
    ['file://', { senderFrame: topFrame('file:///work/dist/renderer/index.html') }],
    ['an https host named halfkey', { senderFrame: topFrame('https://halfkey/') }],
    ['a sub-frame on the app origin', { senderFrame: { url: 'app://halfkey/frame.html', parent: topFrame('app://halfkey/index.html') } }],
    ['an unparseable URL', { senderFrame: topFrame('not a url') }],
  ];
  it.each(refused)('refuses %s with FORBIDDEN_SENDER before the router runs', async (_name, event) => {
    const { handlers, calls, refusals } = mount();
    const result = await statusHandler(handlers)(event, {});
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('FORBIDDEN_SENDER');
    expect(!result.ok && result.error.message).toMatch(/^Refused app:status: .+\. Only the Halfkey window may call the API\.$/);
    expect(calls).toEqual([]);
    expect(refusals).toHaveLength(1);
  });

  it('checks the sender on every channel, not only app:status', async () => {
    const { handlers, calls } = mount();
    for (const [channel, handler] of handlers) {
      const result = await handler({ senderFrame: topFrame('https://evil.example/') }, {});
      expect(result, channel).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_SENDER' } });
    }
    expect(calls).toEqual([]);
  });
});
