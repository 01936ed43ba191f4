-- Reviewer rights are granted by the server's operator (`halfkey server reviewer grant`), not by
-- any device's journal: before this migration any vault's admin could enrol a reviewer key in
-- their own journal and so read and acknowledge every vault's entries. Keep in step with
-- ../postgres/0004_reviewers.sql.
CREATE TABLE reviewers (
  signing_key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;

-- Nothing is carried over from custodian_keys (that would keep the hole open): the operator
-- grants each reviewer after upgrading (docs/operations.md). Challenges and sessions issued under
-- journal-derived rights end here.
DELETE FROM reviewer_challenges;
DELETE FROM reviewer_sessions;
CREATE INDEX reviewer_sessions_key ON reviewer_sessions (reviewer_key);
