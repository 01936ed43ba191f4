-- Organisations as records (docs/custody.md, "Organisations"): rule 3 compares organisation ids,
-- never the text a person typed. A custodian's organisation is the link row below; the custodians
-- table keeps the organisation's display name for reading. Free text found in the custodians table
-- (a vault from before this migration, the founding pair) is adopted by the custody service when it
-- opens: merged case-insensitively into one record per name and journaled (organisation.adopted).
CREATE TABLE custody_organisations (
  id TEXT PRIMARY KEY CHECK (length(id) = 32),
  name TEXT NOT NULL,
  -- The name folded for comparison (NFKC, lower case, inner spaces collapsed): one record per name.
  name_key TEXT NOT NULL UNIQUE,
  added_at INTEGER NOT NULL,
  -- How the record came to be: approved (organisation.added), founding or migrated (organisation.adopted).
  origin TEXT NOT NULL CHECK (origin IN ('approved', 'founding', 'migrated'))
) STRICT;

CREATE TABLE custody_custodian_organisations (
  custodian_id TEXT PRIMARY KEY REFERENCES custodians (id),
  organisation_id TEXT NOT NULL REFERENCES custody_organisations (id)
) STRICT;

CREATE INDEX custody_custodian_organisations_org ON custody_custodian_organisations (organisation_id);

-- Vault policy, changed only by a two-person policy.changed. One row; the custody service writes it
-- the first time it opens a vault, from the vault's creation option (separate organisations).
CREATE TABLE custody_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  separate_organisations INTEGER NOT NULL CHECK (separate_organisations IN (0, 1)),
  max_lease_seconds INTEGER NOT NULL CHECK (max_lease_seconds BETWEEN 60 AND 604800),
  idle_lock_seconds INTEGER NOT NULL CHECK (idle_lock_seconds BETWEEN 60 AND 3600)
) STRICT;

-- The organisations holding an account's root e-mail inbox and recovery phone when no custodian in
-- the vault holds them (custody.channel-organisation-set, a two-person change). Under rule 3 they
-- count as holding that item.
ALTER TABLE custody_accounts ADD COLUMN email_organisation TEXT REFERENCES custody_organisations (id);
ALTER TABLE custody_accounts ADD COLUMN phone_organisation TEXT REFERENCES custody_organisations (id);
