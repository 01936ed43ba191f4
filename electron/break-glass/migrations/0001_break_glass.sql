-- Break-glass sessions (docs/break-glass.md): one emergency root sign-in of one account, its
-- incident, who used which half under which checkout, how it ended and when the halves it used
-- were rotated. Every change to a row is written in the same transaction as its journal entry.
CREATE TABLE break_glass_sessions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  reference TEXT NOT NULL,
  reason TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
  lease_minutes INTEGER NOT NULL CHECK (lease_minutes BETWEEN 5 AND 480),
  state TEXT NOT NULL CHECK (state IN ('opened', 'password-used', 'mfa-used', 'closed')),
  opened_at INTEGER NOT NULL,
  opened_by TEXT NOT NULL,
  password_checkout TEXT,
  password_custodian TEXT,
  password_generation INTEGER,
  password_used_at INTEGER,
  password_lease_until INTEGER,
  mfa_checkout TEXT,
  mfa_custodian TEXT,
  mfa_generation INTEGER,
  mfa_used_at INTEGER,
  mfa_lease_until INTEGER,
  closed_at INTEGER,
  closed_by TEXT,
  outcome TEXT CHECK (outcome IN ('resolved', 'aborted')),
  note TEXT,
  -- When every half the session used had its rotation confirmed (or at closing, when it used none).
  rotated_at INTEGER,
  -- The service run (one per process that opened the vault) that last acted on the session; set
  -- back to NULL when that run closes cleanly. Still set when the vault next opens: that run was
  -- killed or lost power mid-ceremony, and the session is marked interrupted.
  run TEXT,
  interrupted_at INTEGER,
  CHECK ((closed_at IS NULL) = (state <> 'closed')),
  CHECK ((password_checkout IS NULL) = (password_custodian IS NULL)),
  CHECK ((mfa_checkout IS NULL) = (mfa_custodian IS NULL))
) STRICT;

-- One session at a time per account: a second emergency on the same account continues the first.
CREATE UNIQUE INDEX break_glass_open_account ON break_glass_sessions (account_id) WHERE state <> 'closed';
CREATE INDEX break_glass_opened ON break_glass_sessions (opened_at);
