-- Custody: accounts, their custody items, who is assigned which item, the sealed halves,
-- who has obtained which half since its last rotation, checkouts and seed-export approvals.
-- Every change to these tables is written in the same transaction as its journal entry.

CREATE TABLE custody_accounts (
  id TEXT PRIMARY KEY CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9]*'),
  alias TEXT NOT NULL,
  root_email TEXT NOT NULL,
  organisation TEXT NOT NULL,
  phone TEXT,
  notes TEXT NOT NULL DEFAULT '',
  exclusive_checkout INTEGER NOT NULL DEFAULT 0 CHECK (exclusive_checkout IN (0, 1)),
  rotate_after_checkout INTEGER NOT NULL DEFAULT 0 CHECK (rotate_after_checkout IN (0, 1)),
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) STRICT;

CREATE INDEX custody_accounts_alias ON custody_accounts (alias COLLATE NOCASE);

-- One row per half that has been set. A hardware token has no secret, only serial and location.
CREATE TABLE custody_halves (
  account_id TEXT NOT NULL REFERENCES custody_accounts (id),
  item TEXT NOT NULL CHECK (item IN ('password', 'mfa')),
  kind TEXT NOT NULL CHECK (kind IN ('password', 'totp', 'hardware-token')),
  generation INTEGER NOT NULL CHECK (generation >= 1),
  set_at INTEGER NOT NULL,
  set_by TEXT NOT NULL,
  token_serial TEXT,
  token_location TEXT,
  rotation_due INTEGER NOT NULL DEFAULT 0 CHECK (rotation_due IN (0, 1)),
  PRIMARY KEY (account_id, item)
) STRICT;

CREATE TABLE custody_assignments (
  account_id TEXT NOT NULL REFERENCES custody_accounts (id),
  item TEXT NOT NULL CHECK (item IN ('password', 'mfa', 'email', 'phone')),
  custodian_id TEXT NOT NULL,
  assigned_at INTEGER NOT NULL,
  assigned_by TEXT NOT NULL,
  PRIMARY KEY (account_id, item, custodian_id)
) STRICT;

CREATE INDEX custody_assignments_custodian ON custody_assignments (custodian_id);

-- device.seal(crypto_box_seal(secret, custodian boxKey), AAD 'half:<account>:<item>:<custodian>:<generation>').
-- Only the current generation is kept: rotation deletes the retired rows.
CREATE TABLE custody_sealed (
  account_id TEXT NOT NULL,
  item TEXT NOT NULL CHECK (item IN ('password', 'mfa')),
  custodian_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  blob BLOB NOT NULL,
  PRIMARY KEY (account_id, item, custodian_id),
  FOREIGN KEY (account_id, item) REFERENCES custody_halves (account_id, item)
) STRICT;

-- Who has obtained which item since its last rotation (rule 2: "seen both").
CREATE TABLE custody_seen (
  account_id TEXT NOT NULL REFERENCES custody_accounts (id),
  item TEXT NOT NULL CHECK (item IN ('password', 'mfa', 'email', 'phone')),
  custodian_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  first_seen_at INTEGER NOT NULL,
  how TEXT NOT NULL,
  PRIMARY KEY (account_id, item, custodian_id)
) STRICT;

CREATE TABLE custody_checkouts (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES custody_accounts (id),
  item TEXT NOT NULL CHECK (item IN ('password', 'mfa')),
  custodian_id TEXT NOT NULL,
  hardware_token INTEGER NOT NULL DEFAULT 0 CHECK (hardware_token IN (0, 1)),
  reason TEXT NOT NULL,
  ticket TEXT,
  opened_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL,
  closed_at INTEGER,
  close_kind TEXT CHECK (close_kind IN ('checked-in', 'expired')),
  CHECK ((closed_at IS NULL) = (close_kind IS NULL))
) STRICT;

CREATE INDEX custody_checkouts_open ON custody_checkouts (lease_until) WHERE closed_at IS NULL;
CREATE INDEX custody_checkouts_account ON custody_checkouts (account_id, item) WHERE closed_at IS NULL;

CREATE TABLE custody_seed_exports (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES custody_accounts (id),
  requested_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  approved_by TEXT,
  approved_at INTEGER,
  collected_at INTEGER
) STRICT;
