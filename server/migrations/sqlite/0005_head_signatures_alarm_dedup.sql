-- Keep in step with ../postgres/0005_head_signatures_alarm_dedup.sql.
-- A tree head re-signed at start after a key rotation replaces the old key's head of that size in
-- tree_heads; the old signature is kept here: a reviewer investigating a leaked key needs it.
CREATE TABLE tree_head_signatures (
  size INTEGER NOT NULL,
  root TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (size, signature)
) STRICT;

-- A fork or rollback resent over and over is one alarm: the hash of the offered entry tells
-- resends apart from a different conflicting entry. Alarms raised before this migration and
-- journal warnings have none (NULL never conflicts), so nothing existing is lost.
ALTER TABLE alarms ADD COLUMN offered_hash TEXT;
CREATE UNIQUE INDEX alarms_conflict ON alarms (device, kind, seq, offered_hash);
