/**
 * The Electron main process entry (bundled to dist/electron/main.cjs). It owns the single
 * instance, the app:// protocol, the services and the IPC adapter, and opens the one window.
 * The preview adapter (electron/preview/) must never be imported from here: it is not shipped.
 */
import { app, BrowserWindow, ipcMain, protocol, session } from 'electron';
import { join } from 'node:path';
import { createHandlerTable } from '../app/handlers';
import { createAppProtocolHandler } from './app-protocol';
import { openAppServices, type AppServices } from '../app/app-services';
import { electronClipboard } from './clipboard';
import { mountIpcAdapter } from './ipc-adapter';
import { createRouter } from '../app/router';
import { APP_ENTRY_URL, APP_SCHEME } from './security';
import { electronSqliteBinding } from './sqlite-binding';
import { createMainWindow, denyAllPermissions, hardenWebContents } from './window';

let mainWindow: BrowserWindow | null = null;
let services: AppServices | null = null;

function showWindow(): void {
  if (mainWindow === null || mainWindow.isDestroyed()) {
    mainWindow = createMainWindow();
    void mainWindow.loadURL(APP_ENTRY_URL);
    mainWindow.on('closed', () => {
      mainWindow = null;
    });
    return;
  }
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.focus();
}

async function whenReady(): Promise<void> {
  await app.whenReady();
  denyAllPermissions(session.defaultSession);
  protocol.handle(APP_SCHEME, createAppProtocolHandler(join(app.getAppPath(), 'dist', 'renderer')));
  // Before the services: without this Electron's build of better-sqlite3 no vault can open, and the
  // reason (missing, or built for another runtime) is said here rather than as a dlopen error.
  const nativeBinding = electronSqliteBinding(app.getAppPath(), app.isPackaged);
  services = await openAppServices({
    mode: 'electron',
    vaultDir: join(app.getPath('userData'), 'vault'),
    version: app.getVersion(),
    clipboard: electronClipboard,
    nativeBinding,
  });
  // The router's log gets channel, code and message only: payloads may carry passphrases.
  const router = createRouter(createHandlerTable(services), (entry) => console.warn(`halfkey api: ${entry.channel} ${entry.code}`));
  mountIpcAdapter(ipcMain, router, (entry) => console.warn(`halfkey ipc: refused ${entry.channel}: ${entry.reason}`));
  showWindow();
}

/** Starts the app; resolves once the window is open, or at once when another instance owns the vault. */
export function startHalfkey(): Promise<void> {
  // Two instances would open the same vault database and keychain entry; the second hands over.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return Promise.resolve();
  }
  app.on('second-instance', () => {
    if (app.isReady()) showWindow();
  });
  // Must run before 'ready'. standard + secure give app:// a real origin for the CSP's 'self'.
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  // Any webContents, not only ours, gets the same navigation, window-open and webview guards.
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));
  app.on('window-all-closed', () => app.quit());
  app.on('activate', () => {
    if (app.isReady() && services !== null) showWindow();
  });
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing || services === null) return;
    closing = true;
    event.preventDefault();
    const open = services;
    services = null;
    void open.close().finally(() => app.quit());
  });
  return whenReady().catch((error: unknown) => {
    // Without services there is nothing safe to show; say why and leave.
    console.error(`halfkey: could not start: ${error instanceof Error ? error.message : String(error)}`);
    app.exit(1);
  });
}

/** Resolves when startup has finished (or failed and exited); tests await it. */
export const started = startHalfkey();
