/**
 * A recording stand-in for the `electron` module, for unit tests of the window factory, main.ts
 * and the preload where no Electron binary exists. It does nothing itself: it records what the
 * code under test asked Electron to do (options, listeners, handlers) so tests can assert on it
 * and drive the recorded listeners. Tests using it say so in their names.
 */
type Listener = (...args: never[]) => unknown;

/** A recorded `on`/`once` subscription. */
export interface Subscription {
  readonly event: string;
  readonly listener: Listener;
}

class RecordingEmitter {
  readonly subscriptions: Subscription[] = [];
  on(event: string, listener: Listener): this {
    this.subscriptions.push({ event, listener });
    return this;
  }
  once(event: string, listener: Listener): this {
    return this.on(event, listener);
  }
  /** Every listener subscribed to `event`, in order. */
  listeners(event: string): Listener[] {
    return this.subscriptions.filter((s) => s.event === event).map((s) => s.listener);
  }
}

/** What a session's permission handlers were set to. */
export class StandInSession {
  permissionRequestHandler: Listener | null | undefined;
  permissionCheckHandler: Listener | null | undefined;
  devicePermissionHandler: Listener | null | undefined;
  setPermissionRequestHandler(handler: Listener | null): void {
    this.permissionRequestHandler = handler;
  }
  setPermissionCheckHandler(handler: Listener | null): void {
    this.permissionCheckHandler = handler;
  }
  setDevicePermissionHandler(handler: Listener | null): void {
    this.devicePermissionHandler = handler;
  }
}

/** A webContents: records its window-open handler and its listeners. */
export class StandInWebContents extends RecordingEmitter {
  windowOpenHandler: ((details: { url: string }) => { action: string }) | undefined;
  readonly session = new StandInSession();
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = handler;
  }
}

/** A BrowserWindow: records its constructor options and what was called on it. */
export class StandInBrowserWindow extends RecordingEmitter {
  static readonly created: StandInBrowserWindow[] = [];
  readonly webContents = new StandInWebContents();
  contentProtection: boolean | undefined;
  readonly loadedUrls: string[] = [];
  focused = 0;
  constructor(readonly options: { readonly webPreferences?: object } & Record<string, unknown>) {
    super();
    StandInBrowserWindow.created.push(this);
  }
  setContentProtection(enabled: boolean): void {
    this.contentProtection = enabled;
  }
  async loadURL(url: string): Promise<void> {
    this.loadedUrls.push(url);
  }
  isDestroyed(): boolean {
    return false;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {}
  focus(): void {
    this.focused += 1;
  }
  show(): void {}
}

/** Everything the code under test asked of Electron. */
export const recorded = {
  singleInstanceLockRequests: 0,
  quitCalls: 0,
  exitCodes: [] as number[],
  privilegedSchemes: [] as unknown[],
  protocolHandlers: new Map<string, (request: Request) => Promise<Response>>(),
  ipcHandlers: new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>(),
  exposedInMainWorld: new Map<string, unknown>(),
  ipcInvocations: [] as { channel: string; args: unknown[] }[],
  /** ipcRenderer.on/once/addListener subscriptions: a preload that forwards events would show here. */
  ipcRendererSubscriptions: [] as string[],
  openedExternally: [] as string[],
};

/** The paths and flags the stand-in app reports; tests set them before importing the code. */
export const appState = { appPath: '/nonexistent', userData: '/nonexistent', isPackaged: false, singleInstanceLock: true };

class StandInApp extends RecordingEmitter {
  get isPackaged(): boolean {
    return appState.isPackaged;
  }
  getAppPath(): string {
    return appState.appPath;
  }
  getPath(name: string): string {
    if (name !== 'userData') throw new Error(`stand-in app.getPath: ${name} not modelled`);
    return appState.userData;
  }
  getVersion(): string {
    return '0.0.0-test';
  }
  requestSingleInstanceLock(): boolean {
    recorded.singleInstanceLockRequests += 1;
    return appState.singleInstanceLock;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  isReady(): boolean {
    return true;
  }
  quit(): void {
    recorded.quitCalls += 1;
  }
  exit(code: number): void {
    recorded.exitCodes.push(code);
  }
}

/** The stand-in module itself; pass it to vi.mock('electron', …). */
export const electronStandIn = {
  app: new StandInApp(),
  BrowserWindow: StandInBrowserWindow,
  session: { defaultSession: new StandInSession() },
  /** Drive 'lock-screen' and 'suspend' with emit() where no Electron binary exists. */
  powerMonitor: new RecordingEmitter(),
  protocol: {
    registerSchemesAsPrivileged(schemes: unknown[]): void {
      recorded.privilegedSchemes.push(...schemes);
    },
    handle(scheme: string, handler: (request: Request) => Promise<Response>): void {
      recorded.protocolHandlers.set(scheme, handler);
    },
  },
  ipcMain: {
    handle(channel: string, listener: (event: unknown, ...args: unknown[]) => Promise<unknown>): void {
      recorded.ipcHandlers.set(channel, listener);
    },
  },
  shell: {
    async openExternal(url: string): Promise<void> {
      recorded.openedExternally.push(url);
    },
  },
  contextBridge: {
    exposeInMainWorld(key: string, api: unknown): void {
      recorded.exposedInMainWorld.set(key, api);
    },
  },
  ipcRenderer: {
    /** Resolves like Electron's invoke: with the handler's value only, here an echo of what was sent. */
    async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
      recorded.ipcInvocations.push({ channel, args });
      return { ok: true, value: { echoedChannel: channel, argCount: args.length } };
    },
    on(channel: string): void {
      recorded.ipcRendererSubscriptions.push(channel);
    },
    once(channel: string): void {
      recorded.ipcRendererSubscriptions.push(channel);
    },
    addListener(channel: string): void {
      recorded.ipcRendererSubscriptions.push(channel);
    },
  },
};
