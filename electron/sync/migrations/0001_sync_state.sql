-- The sync client's state, in the vault database beside the journal (migration set `sync`).
CREATE TABLE sync_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  server_url TEXT NOT NULL,
  server_key TEXT NOT NULL,
  server_fingerprint TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL,
  -- Highest seq with a verified receipt stored in journal_receipts; -1 before the first.
  acked_seq INTEGER NOT NULL DEFAULT -1,
  last_tree_head TEXT,
  last_success_at INTEGER,
  last_error TEXT,
  last_error_at INTEGER
) STRICT;

-- Server cosignatures of this device's checkpoint entries.
CREATE TABLE sync_cosignatures (
  seq INTEGER PRIMARY KEY,
  entry_hash TEXT NOT NULL,
  signature TEXT NOT NULL,
  server_key TEXT NOT NULL
) STRICT;
