// Runs the BUILT dist/electron/main.cjs in plain Node, with a minimal stand-in for the `electron`
// module (no Electron binary exists here), then drives it the way the window would: IPC calls
// from the app frame and an app:// request. Prints one JSON line of what happened; never a secret.
//   node bundled-main-probe.mjs <main.cjs> <appPath> <userData> <passphrase-file>
import Module, { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const { Request } = globalThis;

const [mainPath, appPath, userData, passphraseFile] = process.argv.slice(2);
const protocolHandlers = new Map();
const ipcHandlers = new Map();
const appListeners = [];
const loadedUrls = [];
const noop = () => {};

class Emitter {
  on(_event, _listener) {
    return this;
  }
  once(event, listener) {
    return this.on(event, listener);
  }
}
const session = { setPermissionRequestHandler: noop, setPermissionCheckHandler: noop, setDevicePermissionHandler: noop };
class BrowserWindow extends Emitter {
  webContents = Object.assign(new Emitter(), { session, setWindowOpenHandler: noop });
  setContentProtection() {}
  async loadURL(url) {
    loadedUrls.push(url);
  }
  isDestroyed() {
    return false;
  }
}
const app = {
  isPackaged: true,
  on: (event, listener) => appListeners.push({ event, listener }),
  getAppPath: () => appPath,
  getPath: () => userData,
  getVersion: () => '0.0.0-probe',
  requestSingleInstanceLock: () => true,
  whenReady: () => Promise.resolve(),
  isReady: () => true,
  quit: noop,
  exit: (code) => {
    process.exitCode = code;
  },
};
const electron = {
  app,
  BrowserWindow,
  session: { defaultSession: session },
  protocol: { registerSchemesAsPrivileged: noop, handle: (scheme, handler) => protocolHandlers.set(scheme, handler) },
  ipcMain: { handle: (channel, handler) => ipcHandlers.set(channel, handler) },
  shell: { openExternal: async () => {} },
  powerMonitor: { on: noop },
};

const load = Module._load;
Module._load = function loadWithStandIn(request, ...rest) {
  return request === 'electron' ? electron : load.call(this, request, ...rest);
};

const main = createRequire(import.meta.url)(mainPath);
await main.started;

const fromApp = { senderFrame: { url: 'app://halfkey/index.html', parent: null } };
const call = (channel, payload) => ipcHandlers.get(channel)(fromApp, payload);
const statusBefore = await call('app:status', {});
const passphrase = readFileSync(passphraseFile, 'utf8').trim();
const created = await call('vault:create', { adminName: 'Probe Admin', organisation: 'Probe Org', passphrase });
const statusAfter = await call('app:status', {});
const page = await protocolHandlers.get('app')(new Request('app://halfkey/index.html'));

for (const { event, listener } of appListeners) if (event === 'before-quit') listener({ preventDefault: noop });
await new Promise((resolve) => setTimeout(resolve, 200));

process.stdout.write(
  `${JSON.stringify({
    channels: [...ipcHandlers.keys()],
    loadedUrls,
    statusBefore,
    // Only whether it worked: the response carries the recovery key.
    created: created.ok ? { ok: true } : { ok: false, error: created.error },
    statusAfter,
    page: { status: page.status, csp: page.headers.get('content-security-policy'), body: await page.text() },
  })}\n`,
);
