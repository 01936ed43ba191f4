import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHANNEL_NAMES } from '../../shared/api/contract';
import {
  appState,
  recorded,
  StandInBrowserWindow,
  StandInSession,
  StandInWebContents,
  electronStandIn,
} from '../support/electron-stand-in';
import { provideSqliteBuildForThisRuntime } from '../support/native-build-stand-in';

// No Electron binary exists here: every Electron API below is the recording stand-in, which only
// records what the code asked for. The assertions are on those requests, item by item of the
// STYLE.md window checklist.
vi.mock('electron', async () => (await import('../support/electron-stand-in')).electronStandIn);

const { createMainWindow } = await import('../../electron/main/window');
const { CONTENT_SECURITY_POLICY } = await import('../../electron/main/security');

const OUTSIDE_SECRET = 'outside-the-renderer-7c1e';
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'halfkey-shell-'));
  mkdirSync(join(work, 'app', 'dist', 'renderer', 'assets'), { recursive: true });
  writeFileSync(
    join(work, 'app', 'dist', 'renderer', 'index.html'),
    '<!doctype html><title>Halfkey</title><script type="module" src="./assets/app.js"></script>',
  );
  writeFileSync(join(work, 'app', 'dist', 'renderer', 'assets', 'app.js'), 'export {};');
  writeFileSync(join(work, 'app', 'dist', 'secret.txt'), OUTSIDE_SECRET);
  symlinkSync(join(work, 'app', 'dist', 'secret.txt'), join(work, 'app', 'dist', 'renderer', 'assets', 'link.txt'));
  appState.appPath = join(work, 'app');
  // main opens its services with the better-sqlite3 build it finds under the app folder.
  provideSqliteBuildForThisRuntime(appState.appPath);
  appState.userData = join(work, 'user-data');
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function newWindow(isPackaged: boolean): StandInBrowserWindow {
  appState.isPackaged = isPackaged;
  createMainWindow();
  const window = StandInBrowserWindow.created.at(-1);
  if (!window) throw new Error('the factory did not create a BrowserWindow');
  return window;
}

type NavigationEvent = { url: string; preventDefault: () => void; defaultPrevented: boolean };
function navigationEvent(url: string): NavigationEvent {
  const event = { url, defaultPrevented: false, preventDefault: () => (event.defaultPrevented = true) };
  return event;
}

/** Fires every recorded listener for `name` and reports whether any cancelled it. */
function cancelled(contents: StandInWebContents, name: string, url: string): boolean {
  const listeners = contents.listeners(name);
  if (listeners.length === 0) throw new Error(`no ${name} listener was registered`);
  const event = navigationEvent(url);
  for (const listener of listeners) (listener as (e: NavigationEvent) => void)(event);
  return event.defaultPrevented;
}

const SAME_ORIGIN = ['app://halfkey/index.html', 'app://halfkey/', 'app://halfkey/vault?x=1#top', 'APP://HALFKEY/index.html'];
const OTHER_ORIGINS = [
  'https://example.com/',
  'app://halfkey.evil/',
  'app://evil/halfkey',
  'https://halfkey/',
  'app://halfkey@evil/',
  'app://evil@halfkey:8080/',
  'app://halfkey:1/',
  'file:///etc/passwd',
  'javascript:alert(1)',
  'data:text/html,<h1>x</h1>',
  'not a url',
];

function checkNavigationGuards(contents: StandInWebContents): void {
  for (const name of ['will-navigate', 'will-redirect']) {
    for (const url of SAME_ORIGIN) expect(cancelled(contents, name, url), `${name} ${url}`).toBe(false);
    for (const url of OTHER_ORIGINS) expect(cancelled(contents, name, url), `${name} ${url}`).toBe(true);
  }
}

function checkWindowOpenAndWebview(contents: StandInWebContents): void {
  expect(contents.windowOpenHandler?.({ url: 'app://halfkey/index.html' })).toEqual({ action: 'deny' });
  expect(contents.windowOpenHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
  const attach = navigationEvent('about:blank');
  const listeners = contents.listeners('will-attach-webview');
  expect(listeners.length).toBeGreaterThan(0);
  for (const listener of listeners) (listener as (e: NavigationEvent) => void)(attach);
  expect(attach.defaultPrevented).toBe(true);
}

function checkPermissionsDenied(session: StandInSession): void {
  const granted: boolean[] = [];
  (session.permissionRequestHandler as (c: unknown, p: string, cb: (g: boolean) => void) => void)(null, 'media', (g) => granted.push(g));
  (session.permissionRequestHandler as (c: unknown, p: string, cb: (g: boolean) => void) => void)(null, 'notifications', (g) =>
    granted.push(g),
  );
  expect(granted).toEqual([false, false]);
  expect((session.permissionCheckHandler as (c: unknown, p: string) => boolean)(null, 'clipboard-read')).toBe(false);
  expect((session.devicePermissionHandler as (d: unknown) => boolean)({ deviceType: 'usb' })).toBe(false);
}

describe('window factory (recording stand-in for electron)', () => {
  it('sets every webPreferences flag of the checklist, frozen, with the bundled preload', () => {
    const prefs = newWindow(false).options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      preload: join(work, 'app', 'dist', 'electron', 'preload.cjs'),
    });
    expect(Object.isFrozen(prefs)).toBe(true);
    expect(() => {
      prefs.nodeIntegration = true;
    }).toThrow(TypeError);
  });

  it('allows DevTools only when not packaged', () => {
    expect((newWindow(false).options.webPreferences as Record<string, unknown>).devTools).toBe(true);
    expect((newWindow(true).options.webPreferences as Record<string, unknown>).devTools).toBe(false);
  });

  it('turns content protection on (the window shows secrets)', () => {
    expect(newWindow(true).contentProtection).toBe(true);
  });

  it('denies window.open and hands only allowlisted https links to the system browser', async () => {
    const contents = newWindow(true).webContents;
    recorded.openedExternally.length = 0;
    checkWindowOpenAndWebview(contents);
    expect(contents.windowOpenHandler?.({ url: 'https://docs.aws.amazon.com/IAM/' })).toEqual({ action: 'deny' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(recorded.openedExternally).toEqual(['https://docs.aws.amazon.com/IAM/']);
  });

  it('cancels navigation and redirects off the app origin (parsed, not by prefix) and allows same-origin', () => {
    checkNavigationGuards(newWindow(true).webContents);
  });

  it('denies every permission request and check on the window session', () => {
    checkPermissionsDenied(newWindow(true).webContents.session);
  });
});

describe('main process (recording stand-in for electron)', () => {
  let windowsBefore = 0;
  beforeAll(async () => {
    windowsBefore = StandInBrowserWindow.created.length;
    const main = await import('../../electron/main/main');
    await main.started;
  });

  afterAll(async () => {
    // Close the real services main opened, the way quitting the app does.
    for (const listener of electronStandIn.app.listeners('before-quit')) {
      (listener as (e: { preventDefault: () => void }) => void)({ preventDefault: () => {} });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it('requests the single-instance lock and focuses the window on a second instance', () => {
    expect(recorded.singleInstanceLockRequests).toBe(1);
    const window = StandInBrowserWindow.created.at(-1);
    const focusedBefore = window?.focused ?? 0;
    for (const listener of electronStandIn.app.listeners('second-instance')) (listener as () => void)();
    expect(window?.focused).toBe(focusedBefore + 1);
    expect(StandInBrowserWindow.created.length).toBe(windowsBefore + 1);
  });

  it('registers app:// as a standard, secure, fetch-capable scheme and loads the app from it', () => {
    expect(recorded.privilegedSchemes).toEqual([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
    expect(StandInBrowserWindow.created.at(-1)?.loadedUrls).toEqual(['app://halfkey/index.html']);
  });

  it('serves the renderer over app:// with the CSP as a response header', async () => {
    const handler = recorded.protocolHandlers.get('app');
    if (!handler) throw new Error('no app:// handler');
    const index = await handler(new Request('app://halfkey/index.html'));
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('<title>Halfkey</title>');
    const script = await handler(new Request('app://halfkey/assets/app.js'));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    const missing = await handler(new Request('app://halfkey/nope.js'));
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });

  it('refuses paths that leave the renderer folder, with the CSP header still set', async () => {
    const handler = recorded.protocolHandlers.get('app');
    if (!handler) throw new Error('no app:// handler');
    const attempts = [
      'app://halfkey/..%2fsecret.txt',
      'app://halfkey/assets/..%2f..%2fsecret.txt',
      'app://halfkey/%2e%2e/secret.txt',
      'app://halfkey/../secret.txt',
      'app://halfkey/assets/link.txt',
      'app://halfkey/..%5csecret.txt',
      'app://halfkey/index.html%00.js',
      'app://evil/index.html',
    ];
    for (const url of attempts) {
      const response = await handler(new Request(url));
      const body = await response.text();
      expect(response.status, url).toBeGreaterThanOrEqual(400);
      expect(body, url).not.toContain(OUTSIDE_SECRET);
      expect(response.headers.get('content-security-policy'), url).toBe(CONTENT_SECURITY_POLICY);
    }
    const post = await handler(new Request('app://halfkey/index.html', { method: 'POST', body: 'x' }));
    expect(post.status).toBe(405);
  });

  it('mounts the IPC adapter on every channel, answering the app frame from the real services', async () => {
    expect([...recorded.ipcHandlers.keys()].sort()).toEqual([...CHANNEL_NAMES].sort());
    const status = recorded.ipcHandlers.get('app:status');
    const good = await status?.({ senderFrame: { url: 'app://halfkey/index.html', parent: null } }, {});
    expect(good).toMatchObject({ ok: true, value: { mode: 'electron', version: '0.0.0-test' } });
    const bad = await status?.({ senderFrame: { url: 'https://example.com/', parent: null } }, {});
    expect(bad).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_SENDER' } });
  });

  it('denies permissions on the default session', () => {
    checkPermissionsDenied(electronStandIn.session.defaultSession);
  });

  it('guards any other webContents that appears (web-contents-created)', () => {
    const stranger = new StandInWebContents();
    for (const listener of electronStandIn.app.listeners('web-contents-created'))
      (listener as (e: unknown, c: StandInWebContents) => void)({}, stranger);
    checkNavigationGuards(stranger);
    checkWindowOpenAndWebview(stranger);
  });

  it('applies the same guards to the window it opens', () => {
    const window = StandInBrowserWindow.created.at(-1);
    if (!window) throw new Error('main opened no window');
    expect(window.contentProtection).toBe(true);
    checkNavigationGuards(window.webContents);
  });
});
