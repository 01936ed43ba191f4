/** The keychain service name every Halfkey entry is stored under. */
export const KEYCHAIN_SERVICE = 'halfkey';

/**
 * The OS keychain as Halfkey uses it: one secret string per account name under the `halfkey`
 * service. Implementations refuse to run rather than fall back to a plaintext file.
 */
export interface Keychain {
  /** Human-readable name of the store in use, recorded in the vault (e.g. `Secret Service (libsecret): gnome-keyring`). */
  readonly backend: string;
  /** The secret stored for account, or null when there is none. */
  get(account: string): Promise<string | null>;
  /** Stores (or replaces) the secret for account. */
  set(account: string, secret: string): Promise<void>;
  /** Removes the secret for account; true if one was there. */
  delete(account: string): Promise<boolean>;
}
