-- Less index work per append, the same rows and the same answers:
-- - the UNIQUE constraint on journal_entries.hash kept an index of random 64-character keys: every
--   append wrote a page at a random place in it (a 4 KiB WAL frame per entry on a grown journal),
--   and nothing looks entries up by hash. Uniqueness is already implied: the hash covers seq, the
--   primary key. The table is rebuilt without it.
-- - the actor and account indexes leave out NULLs (checkpoints, heartbeats and other entries the
--   device writes alone): `actor = ?` and `account = ?` never match NULL, and SQLite uses a partial
--   index for them.
CREATE TABLE journal_entries_new (
  seq INTEGER PRIMARY KEY CHECK (seq >= 0),
  v INTEGER NOT NULL,
  vault TEXT NOT NULL,
  device TEXT NOT NULL,
  prev TEXT NOT NULL,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT,
  data TEXT NOT NULL,
  hash TEXT NOT NULL,
  sigs TEXT NOT NULL,
  account TEXT
) STRICT;

INSERT INTO journal_entries_new (seq, v, vault, device, prev, time, type, actor, data, hash, sigs, account)
  SELECT seq, v, vault, device, prev, time, type, actor, data, hash, sigs, account FROM journal_entries ORDER BY seq;

DROP TABLE journal_entries;
ALTER TABLE journal_entries_new RENAME TO journal_entries;

CREATE INDEX journal_entries_type ON journal_entries (type, seq);
CREATE INDEX journal_entries_actor ON journal_entries (actor, seq) WHERE actor IS NOT NULL;
CREATE INDEX journal_entries_account ON journal_entries (account, seq) WHERE account IS NOT NULL;
CREATE INDEX journal_entries_time ON journal_entries (time);
