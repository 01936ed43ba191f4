import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { HalfkeyError } from '../../shared/api/result';
import { KEYCHAIN_SERVICE, type Keychain } from './keychain';

type Keytar = typeof import('keytar');

/** How long one keychain call may take before it is reported as hung (keytar can block ~25 s). */
export const KEYCHAIN_TIMEOUT_MS = 10_000;

const NO_PLAINTEXT = 'Halfkey never stores keys in a plaintext file.';

export interface KeytarKeychainOptions {
  /** Per-call time limit in milliseconds (default KEYCHAIN_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Environment to inspect for the D-Bus session (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
}

/** The fix to name when no keychain answers, per platform. */
function fixFor(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'darwin':
      return 'unlock the login keychain in Keychain Access and try again.';
    case 'win32':
      return 'make sure the Windows Credential Manager service is running and try again.';
    default:
      return 'start a Secret Service such as gnome-keyring (or KeePassXC with Secret Service enabled) in this desktop session and try again.';
  }
}

function unavailable(platform: NodeJS.Platform, what: string): HalfkeyError {
  return new HalfkeyError(
    'KEYCHAIN_UNAVAILABLE',
    `The OS keychain is not available: ${what}. To fix it, ${fixFor(platform)} ${NO_PLAINTEXT}`,
  );
}

/** The keychain's display name for a platform, before the Linux provider is known. */
export function platformBackend(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'darwin':
      return 'macOS Keychain';
    case 'win32':
      return 'Windows Credential Manager';
    default:
      return 'Secret Service (libsecret)';
  }
}

/**
 * Stores whose secrets sit on disk unencrypted. libsecret itself has no plaintext fallback, but
 * Chromium-style "basic"/"plaintext" stores and test doubles can own the Secret Service name.
 */
const PLAINTEXT_PROVIDERS = /(^|[^a-z])(basic|basic_text|plaintext|plain-text|file)([^a-z]|$)/i;

/** Refuses a backend known to keep secrets in plaintext; returns the backend name otherwise. */
export function refusePlaintextBackend(backend: string, platform: NodeJS.Platform = process.platform): string {
  if (PLAINTEXT_PROVIDERS.test(backend)) {
    throw new HalfkeyError(
      'KEYCHAIN_UNAVAILABLE',
      `The keychain backend "${backend}" stores secrets in plaintext and is refused. To fix it, ${fixFor(platform)} ${NO_PLAINTEXT}`,
      {
        backend,
      },
    );
  }
  return backend;
}

/** Runs one keychain call under a time limit, mapping any failure to KEYCHAIN_UNAVAILABLE. */
async function timeBoxed<T>(platform: NodeJS.Platform, timeoutMs: number, what: string, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(platform, `the keychain did not answer ${what} within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    if (error instanceof HalfkeyError) throw error;
    // keytar's messages name the D-Bus problem (no socket, no daemon); they never carry the secret.
    throw unavailable(platform, `${what} failed (${error instanceof Error ? error.message : String(error)})`);
  } finally {
    clearTimeout(timer);
  }
}

/** Which process owns org.freedesktop.secrets on the session bus, e.g. `gnome-keyring-d`; null when nobody does. */
function secretServiceProvider(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'dbus-send',
      [
        '--session',
        '--print-reply',
        '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus.GetConnectionUnixProcessID',
        'string:org.freedesktop.secrets',
      ],
      { env, timeout: Math.min(timeoutMs, 3000) },
      (error, stdout) => {
        const pid = /uint32 (\d+)/.exec(stdout)?.[1];
        if (error || pid === undefined) return resolve(null);
        try {
          resolve(readFileSync(`/proc/${pid}/comm`, 'utf8').trim() || 'unknown provider');
        } catch {
          resolve('unknown provider');
        }
      },
    );
  });
}

/**
 * Opens the OS keychain through keytar and proves it answers (one read of a probe entry).
 * Throws KEYCHAIN_UNAVAILABLE naming the fix when there is no keychain; never falls back to a file.
 */
export async function openKeytarKeychain(options: KeytarKeychainOptions = {}): Promise<Keychain> {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? KEYCHAIN_TIMEOUT_MS;
  if (platform === 'linux' && !env.DBUS_SESSION_BUS_ADDRESS) {
    throw unavailable(platform, 'there is no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)');
  }
  let keytar: Keytar;
  try {
    const loaded = (await import('keytar')) as Keytar & { default?: Keytar };
    keytar = loaded.default ?? loaded;
  } catch (error) {
    throw unavailable(platform, `the keytar module failed to load (${error instanceof Error ? error.message : String(error)})`);
  }
  let backend = platformBackend(platform);
  if (platform === 'linux') {
    const provider = await secretServiceProvider(env, timeoutMs);
    if (provider !== null) backend = `${backend}: ${provider}`;
  }
  refusePlaintextBackend(backend, platform);
  await timeBoxed(platform, timeoutMs, 'a probe read', () => keytar.getPassword(KEYCHAIN_SERVICE, 'probe'));
  return {
    backend,
    get: (account) => timeBoxed(platform, timeoutMs, `reading ${account}`, () => keytar.getPassword(KEYCHAIN_SERVICE, account)),
    set: (account, secret) =>
      timeBoxed(platform, timeoutMs, `writing ${account}`, () => keytar.setPassword(KEYCHAIN_SERVICE, account, secret)),
    delete: (account) => timeBoxed(platform, timeoutMs, `deleting ${account}`, () => keytar.deletePassword(KEYCHAIN_SERVICE, account)),
  };
}
