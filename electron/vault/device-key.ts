import { HalfkeyError } from '../../shared/api/result';
import { ed25519Signer, type EntrySigner } from '../../shared/journal/entry';
import type { Sodium } from '../../shared/sodium';
import type { Keychain } from '../keychain/keychain';

/** KDF context for the device subkeys (libsodium wants exactly 8 bytes). */
const KDF_CONTEXT = 'hkdevice';
const SUBKEY_SEAL = 1;
const SUBKEY_SIGN = 2;

/** The device's keys for one vault: row encryption under the device master, and the journal device signer. */
export interface DeviceKeys {
  readonly vaultId: string;
  /** Journal device key (Ed25519). */
  readonly signer: EntrySigner;
  /** XChaCha20-Poly1305, returns nonce‖ciphertext; aad binds the row, e.g. `half:<accountId>:<item>:<custodianId>:<generation>`. */
  seal(plaintext: Uint8Array, aad: string): Uint8Array;
  /** Opens what seal produced for the same aad; throws HalfkeyError on any mismatch. */
  open(ciphertext: Uint8Array, aad: string): Uint8Array;
}

/** Device keys plus the means to forget them. */
export interface HeldDeviceKeys extends DeviceKeys {
  /** Zeroes the master and subkeys; every later call throws VAULT_LOCKED. */
  forget(): void;
}

/** The keychain account holding a vault's device master. */
export function deviceAccount(vaultId: string): string {
  return `device:${vaultId}`;
}

/** A fresh 32-byte device master. */
export function newDeviceMaster(sodium: Sodium): Uint8Array {
  return sodium.crypto_kdf_keygen();
}

/** Reads the device master from the keychain; null when the entry is gone (new machine, lost keyring). */
export async function readDeviceMaster(keychain: Keychain, vaultId: string, sodium: Sodium): Promise<Uint8Array | null> {
  const stored = await keychain.get(deviceAccount(vaultId));
  if (stored === null) return null;
  try {
    const master = sodium.from_base64(stored, sodium.base64_variants.ORIGINAL);
    if (master.length === sodium.crypto_kdf_KEYBYTES) return master;
  } catch {
    // fall through to the error below: the entry exists but is not a device master
  }
  throw new HalfkeyError(
    'VAULT_LOCKED',
    `The keychain entry for vault ${vaultId} is damaged; restore access with the recovery key and two custodians (vault:recover, or 'halfkey vault recover').`,
  );
}

/** Writes the device master to the keychain. */
export function writeDeviceMaster(keychain: Keychain, vaultId: string, master: Uint8Array, sodium: Sodium): Promise<void> {
  return keychain.set(deviceAccount(vaultId), sodium.to_base64(master, sodium.base64_variants.ORIGINAL));
}

/** Derives the device's subkeys from its master; the master itself is not kept. */
export function deriveDeviceKeys(vaultId: string, master: Uint8Array, sodium: Sodium): HeldDeviceKeys {
  const sealKey = sodium.crypto_kdf_derive_from_key(sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES, SUBKEY_SEAL, KDF_CONTEXT, master);
  const seed = sodium.crypto_kdf_derive_from_key(sodium.crypto_sign_SEEDBYTES, SUBKEY_SIGN, KDF_CONTEXT, master);
  const pair = sodium.crypto_sign_seed_keypair(seed);
  sodium.memzero(seed);
  const secretKey = pair.privateKey;
  const signer = ed25519Signer(secretKey, sodium);
  let forgotten = false;
  const live = (): void => {
    if (forgotten) throw new HalfkeyError('VAULT_LOCKED', 'The vault is closed; open it again to continue.');
  };
  const nonceBytes = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  return {
    vaultId,
    signer: {
      publicKey: signer.publicKey,
      sign: (message) => {
        live();
        return signer.sign(message);
      },
    },
    seal(plaintext, aad) {
      live();
      const nonce = sodium.randombytes_buf(nonceBytes);
      const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, sealKey);
      const out = new Uint8Array(nonce.length + ct.length);
      out.set(nonce, 0);
      out.set(ct, nonce.length);
      return out;
    },
    open(ciphertext, aad) {
      live();
      if (ciphertext.length < nonceBytes + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES) {
        throw new HalfkeyError('INTERNAL', `A sealed vault value (${aad.split(':')[0]}) is too short; the vault file is damaged.`);
      }
      try {
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
          null,
          ciphertext.subarray(nonceBytes),
          aad,
          ciphertext.subarray(0, nonceBytes),
          sealKey,
        );
      } catch {
        // The AAD names the row; the message names only its kind so no identifiers of secrets leak.
        throw new HalfkeyError(
          'INTERNAL',
          `A sealed vault value (${aad.split(':')[0]}) does not open under this device key: it was altered or moved to another row.`,
        );
      }
    },
    forget() {
      forgotten = true;
      sodium.memzero(sealKey);
      sodium.memzero(secretKey);
    },
  };
}
