-- Token buckets shared by every server process on this database: several stateless processes
-- behind a load balancer count against one per-device and per-address budget. UNLOGGED: a
-- crash only forgives (the buckets start full again), and no WAL flush is paid per request.
CREATE UNLOGGED TABLE rate_buckets (
  bucket TEXT PRIMARY KEY,
  tokens DOUBLE PRECISION NOT NULL,
  updated_at BIGINT NOT NULL
);
