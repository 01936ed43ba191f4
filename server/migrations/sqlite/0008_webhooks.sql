-- Keep in step with ../postgres/0008_webhooks.sql.
-- Webhooks the operator configured (`halfkey server webhook add`), and the outbox of their
-- deliveries (server/notify/webhooks.ts, docs/operations.md "Webhooks"). A removed webhook keeps
-- its row (disabled_at set, secret wiped) so its delivery log still names it.
CREATE TABLE webhooks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  -- The HMAC key of the signature header: needed in clear to sign, never printed or logged.
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
) STRICT;

-- One row per webhook per event, written in the transaction that stores what the event reports.
-- The body is frozen at enqueue (its delivery id included), so every retry sends the same bytes.
-- claimed_by/claimed_until is the lease: a process sends only a delivery it claimed, and a claim
-- that outlives its process expires so another process retries it (with the same delivery id).
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id INTEGER NOT NULL REFERENCES webhooks (id),
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  delivered_at INTEGER,
  claimed_by TEXT,
  claimed_until INTEGER
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at);
