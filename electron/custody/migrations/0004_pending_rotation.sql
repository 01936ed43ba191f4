-- Rotation is two-phase: custody:rotate writes the new generation here, sealed to every assignee,
-- while the current one stays in use; a confirmed rotation (rotation.confirmed, a two-person
-- change) makes it current and retires the old one; an abandoned one is deleted. One pending
-- rotation per half. The sealed blobs carry the same AAD as current ones
-- ('half:<account>:<item>:<custodian>:<generation>'), so confirming moves them unchanged.
CREATE TABLE custody_pending_rotations (
  account_id TEXT NOT NULL,
  item TEXT NOT NULL CHECK (item IN ('password', 'mfa')),
  generation INTEGER NOT NULL,
  rotated_at INTEGER NOT NULL,
  rotated_by TEXT NOT NULL,
  PRIMARY KEY (account_id, item),
  FOREIGN KEY (account_id, item) REFERENCES custody_halves (account_id, item)
) STRICT;

CREATE TABLE custody_pending_sealed (
  account_id TEXT NOT NULL,
  item TEXT NOT NULL,
  custodian_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  blob BLOB NOT NULL,
  PRIMARY KEY (account_id, item, custodian_id),
  FOREIGN KEY (account_id, item) REFERENCES custody_pending_rotations (account_id, item)
) STRICT;
