-- The journal of one device for one vault. Every signed field is a column, so changing any
-- column of a row changes what the verifier recomputes; `account` is a copy of data.account
-- kept only as a query index (it is not read back into the entry).
CREATE TABLE journal_entries (
  seq INTEGER PRIMARY KEY CHECK (seq >= 0),
  v INTEGER NOT NULL,
  vault TEXT NOT NULL,
  device TEXT NOT NULL,
  prev TEXT NOT NULL,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT,
  data TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  sigs TEXT NOT NULL,
  account TEXT
) STRICT;

CREATE INDEX journal_entries_type ON journal_entries (type, seq);
CREATE INDEX journal_entries_actor ON journal_entries (actor, seq);
CREATE INDEX journal_entries_account ON journal_entries (account, seq);
CREATE INDEX journal_entries_time ON journal_entries (time);

-- The RFC 6962 frontier over all entry hashes, updated in the same transaction as each append,
-- so checkpoints never need a full reread and a rolled-back append leaves it untouched.
CREATE TABLE journal_frontier (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  nodes TEXT NOT NULL
) STRICT;

-- Receipts from the central server (written by the sync client): proof that the server logged
-- entry (device, seq) at log_index under a signed tree head.
CREATE TABLE journal_receipts (
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  entry_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  tree_head TEXT NOT NULL,
  inclusion_proof TEXT NOT NULL,
  server_key TEXT NOT NULL,
  signature TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (device, seq)
) STRICT;
