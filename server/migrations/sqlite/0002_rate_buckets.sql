-- Token buckets kept in the database, so every server process sharing it counts against the same
-- per-device and per-address budget (the SQLite server keeps its buckets in memory by default;
-- the table exists so both adapters answer the same queries).
CREATE TABLE rate_buckets (
  bucket TEXT PRIMARY KEY,
  tokens REAL NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
