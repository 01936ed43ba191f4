-- Two-person changes waiting for, or decided by, a second custodian (docs/custody.md, "Dual control").
CREATE TABLE proposals (
  id TEXT PRIMARY KEY CHECK (length(id) = 32),
  -- The type of the journal entry that will apply the change (a key of TWO_PERSON_TYPES).
  type TEXT NOT NULL,
  account TEXT,
  -- Canonical JSON of the change exactly as the proposer signed it.
  change TEXT NOT NULL,
  proposer TEXT NOT NULL REFERENCES custodians (id),
  proposed_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  -- The proposer's Ed25519 signature over the proposal statement (128 hex).
  sig TEXT NOT NULL CHECK (length(sig) = 128),
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'applied', 'withdrawn', 'expired')),
  decided_by TEXT,
  decided_at INTEGER
) STRICT;

CREATE INDEX proposals_open ON proposals (state, expires_at);
