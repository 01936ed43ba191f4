-- Server receipts for a whole accepted batch in one row instead of one row per entry (each with
-- its own audit path, ~1.3 KB): the signed tree head, the log index of the batch's first new
-- entry (log_start), the log's frontier there (JSON array of hex subtree roots, left to right)
-- and the batch's entry hashes (32 bytes each, in seq order, from first_seq). Each entry's
-- receipt is derived from the row when it is read (shared/sync/receipt.ts receiptsOfBlock) and
-- is the one a journal_receipts row would hold. journal_receipts stays: rows written before this
-- migration, and receipts the server sends one by one for entries it already held, are kept and
-- read there; a (device, seq) in both tables reads from journal_receipts.
CREATE TABLE journal_receipt_blocks (
  device TEXT NOT NULL,
  first_seq INTEGER NOT NULL CHECK (first_seq >= 0),
  count INTEGER NOT NULL CHECK (count >= 1),
  log_start INTEGER NOT NULL CHECK (log_start >= 0),
  tree_head TEXT NOT NULL,
  frontier TEXT NOT NULL,
  entry_hashes BLOB NOT NULL CHECK (length(entry_hashes) = 32 * count),
  server_key TEXT NOT NULL,
  signature TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (device, first_seq)
) STRICT;

CREATE INDEX journal_receipt_blocks_seq ON journal_receipt_blocks (first_seq);
