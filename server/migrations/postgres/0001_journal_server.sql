-- The central journal server's schema (PostgreSQL). Keep in step with ../sqlite/0001_journal_server.sql.
CREATE TABLE enrol_tokens (
  token_hash TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  used_by TEXT
);

CREATE TABLE devices (
  device TEXT PRIMARY KEY,
  vault TEXT NOT NULL,
  enrolled_at BIGINT NOT NULL,
  revoked_at BIGINT,
  last_seen BIGINT,
  head_seq BIGINT,
  head_hash TEXT,
  chain_state TEXT
);

-- Custodian keys per vault: from the enrolment roster and from ingested custodian.* entries.
CREATE TABLE custodian_keys (
  vault TEXT NOT NULL,
  signing_key TEXT NOT NULL,
  custodian TEXT NOT NULL,
  role TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('enrolment', 'journal')),
  revoked BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (vault, signing_key, source)
);

CREATE TABLE entries (
  device TEXT NOT NULL,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL,
  type TEXT NOT NULL,
  time BIGINT NOT NULL,
  actor TEXT,
  body TEXT NOT NULL,
  log_index BIGINT NOT NULL UNIQUE,
  receipt_size BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  break_glass BIGINT NOT NULL,
  PRIMARY KEY (device, seq)
);
CREATE INDEX entries_break_glass ON entries (break_glass) WHERE break_glass = 1;

-- Perfect subtree roots of the org-wide RFC 6962 log, keyed by index * 64 + level.
CREATE TABLE log_nodes (
  node_key BIGINT PRIMARY KEY,
  hash TEXT NOT NULL
);

CREATE TABLE tree_heads (
  size BIGINT PRIMARY KEY,
  root TEXT NOT NULL,
  timestamp BIGINT NOT NULL,
  signature TEXT NOT NULL
);

CREATE TABLE nonces (
  device TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (device, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE alarms (
  id BIGSERIAL PRIMARY KEY,
  device TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq BIGINT,
  message TEXT NOT NULL,
  evidence TEXT NOT NULL,
  raised_at BIGINT NOT NULL
);

CREATE TABLE acknowledgements (
  device TEXT NOT NULL,
  seq BIGINT NOT NULL,
  reviewer TEXT NOT NULL,
  acknowledged_at BIGINT NOT NULL,
  PRIMARY KEY (device, seq)
);

CREATE TABLE reviewer_challenges (
  challenge TEXT PRIMARY KEY,
  reviewer_key TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE reviewer_sessions (
  token_hash TEXT PRIMARY KEY,
  reviewer_key TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
