import { HalfkeyError } from '../../shared/api/result';
import type { EntrySigner } from '../../shared/journal/entry';

/**
 * The device signing key of a vault folder, for `journal export` to sign its manifest. The key
 * lives in the OS keychain under the vault service; until that service exposes a loader, export
 * from the CLI refuses with a clear message instead of asking for key material on disk.
 */
export async function loadDeviceSignerForJournal(vaultDir: string): Promise<EntrySigner> {
  throw new HalfkeyError('KEYCHAIN_UNAVAILABLE', `Cannot load the device key for ${vaultDir}: the keychain loader is not available in this build; export from the app instead.`);
}
