import { app, BrowserWindow, shell, type Session, type WebContents, type WebPreferences } from 'electron';
import { join } from 'node:path';
import { isAppUrl, openExternalSafely } from './security';

/** Where the bundled, sandbox-compatible preload lives inside the app (see build/bundle-electron.mjs). */
export function preloadPath(): string {
  return join(app.getAppPath(), 'dist', 'electron', 'preload.cjs');
}

/**
 * The one set of webPreferences every Halfkey window gets (STYLE rule 6, the window checklist).
 * Frozen so no caller can loosen a flag, for tests or otherwise (STYLE rule 10).
 */
export function hardenedWebPreferences(): Readonly<WebPreferences> {
  return Object.freeze({
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    // DevTools can read everything the page shows, including a checked-out half.
    devTools: !app.isPackaged,
    preload: preloadPath(),
  } satisfies WebPreferences);
}

/**
 * Guards any webContents, the app's own and any other that appears: no new windows (an
 * allowlisted https link goes to the system browser instead), no navigation or redirect off the
 * app origin, no <webview>.
 */
export function hardenWebContents(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => {
    openExternalSafely(shell, url).catch(() => {
      // Refused links are simply not opened; the page already knows it asked for something odd.
    });
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event) => {
    if (!isAppUrl(event.url)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!isAppUrl(event.url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
  });
}

/** Refuses every permission (camera, notifications, clipboard-read, USB, …): Halfkey needs none. */
export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
}

/**
 * The one window factory. The window shows secrets, so content protection keeps it out of
 * screen captures and recordings where the OS supports that.
 */
export function createMainWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1100,
    height: 760,
    minWidth: 720,
    minHeight: 520,
    title: 'Halfkey',
    show: false,
    backgroundColor: '#ffffff',
    webPreferences: hardenedWebPreferences(),
  });
  window.setContentProtection(true);
  denyAllPermissions(window.webContents.session);
  hardenWebContents(window.webContents);
  window.once('ready-to-show', () => window.show());
  return window;
}
