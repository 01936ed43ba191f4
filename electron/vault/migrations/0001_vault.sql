-- One row: the vault's identity, where its device key lives, and the device master wrapped by the recovery key.
CREATE TABLE vault_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  vault_id TEXT NOT NULL CHECK (length(vault_id) = 32),
  created_at INTEGER NOT NULL,
  keychain_backend TEXT NOT NULL,
  device_public_key TEXT NOT NULL CHECK (length(device_public_key) = 64),
  -- XChaCha20-Poly1305(nonce || ct) of the 32-byte device master under a key derived from the recovery key.
  recovery_wrapped BLOB NOT NULL,
  separate_organisations INTEGER NOT NULL CHECK (separate_organisations IN (0, 1))
) STRICT;

CREATE TABLE custodians (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  organisation TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'password-custodian', 'mfa-custodian', 'reviewer')),
  signing_key TEXT NOT NULL UNIQUE CHECK (length(signing_key) = 64),
  box_key TEXT NOT NULL UNIQUE CHECK (length(box_key) = 64),
  -- Device-sealed (AAD custodian:<id>:keys) secretbox of the Ed25519 and X25519 secret keys under Argon2id(passphrase).
  wrapped_keys BLOB NOT NULL,
  -- The KDF parameters are read back per row so they can be raised for new passphrases later.
  kdf_alg INTEGER NOT NULL,
  kdf_opslimit INTEGER NOT NULL,
  kdf_memlimit INTEGER NOT NULL,
  kdf_salt BLOB NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
  enrolled_at INTEGER NOT NULL,
  enrolled_by TEXT,
  -- Failed unlocks since the last success, and the time before which no attempt is tried (ms since epoch).
  failed_unlocks INTEGER NOT NULL DEFAULT 0,
  backoff_until INTEGER NOT NULL DEFAULT 0
) STRICT;
