-- The central journal server's schema (SQLite). Keep in step with ../postgres/0001_journal_server.sql.
CREATE TABLE enrol_tokens (
  token_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by TEXT
) STRICT;

CREATE TABLE devices (
  device TEXT PRIMARY KEY,
  vault TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL,
  revoked_at INTEGER,
  last_seen INTEGER,
  head_seq INTEGER,
  head_hash TEXT,
  chain_state TEXT
) STRICT;

-- Custodian keys per vault: from the enrolment roster and from ingested custodian.* entries.
CREATE TABLE custodian_keys (
  vault TEXT NOT NULL,
  signing_key TEXT NOT NULL,
  custodian TEXT NOT NULL,
  role TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('enrolment', 'journal')),
  revoked INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (vault, signing_key, source)
) STRICT;

CREATE TABLE entries (
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  type TEXT NOT NULL,
  time INTEGER NOT NULL,
  actor TEXT,
  body TEXT NOT NULL,
  log_index INTEGER NOT NULL UNIQUE,
  receipt_size INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  break_glass INTEGER NOT NULL,
  PRIMARY KEY (device, seq)
) STRICT;
CREATE INDEX entries_break_glass ON entries (break_glass) WHERE break_glass = 1;

-- Perfect subtree roots of the org-wide RFC 6962 log, keyed by index * 64 + level.
CREATE TABLE log_nodes (
  node_key INTEGER PRIMARY KEY,
  hash TEXT NOT NULL
) STRICT;

CREATE TABLE tree_heads (
  size INTEGER PRIMARY KEY,
  root TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  signature TEXT NOT NULL
) STRICT;

CREATE TABLE nonces (
  device TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (device, nonce)
) STRICT;
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE alarms (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER,
  message TEXT NOT NULL,
  evidence TEXT NOT NULL,
  raised_at INTEGER NOT NULL
) STRICT;

CREATE TABLE acknowledgements (
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  reviewer TEXT NOT NULL,
  acknowledged_at INTEGER NOT NULL,
  PRIMARY KEY (device, seq)
) STRICT;

CREATE TABLE reviewer_challenges (
  challenge TEXT PRIMARY KEY,
  reviewer_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE reviewer_sessions (
  token_hash TEXT PRIMARY KEY,
  reviewer_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
