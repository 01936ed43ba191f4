-- The reviewer's loop (docs/sync-protocol.md "Incidents, alarms and reviews"). Keep in step with
-- ../postgres/0007_incidents_reviews.sql.

-- One incident per break-glass session of a device, opened by its first synced entry (whose hash
-- is the incident's id); `ord` is that entry's log index, the order and paging cursor of the view.
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  device TEXT NOT NULL,
  vault TEXT NOT NULL,
  session TEXT NOT NULL,
  account TEXT,
  reference TEXT,
  reason TEXT,
  severity TEXT,
  outcome TEXT,
  opened_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ord INTEGER NOT NULL UNIQUE,
  UNIQUE (device, session)
) STRICT;

-- The synced entries behind an incident or an alarm.
CREATE TABLE incident_entries (
  incident TEXT NOT NULL,
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (incident, seq)
) STRICT;
CREATE TABLE alarm_entries (
  alarm INTEGER NOT NULL,
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (alarm, seq)
) STRICT;

-- Signed reviews: each is a leaf of the org log (leaf data = its review hash) at log_index,
-- which entries never share (both are allocated under the log lock). One per subject: the first
-- acknowledgement wins, whichever process stores it.
CREATE TABLE reviews (
  hash TEXT PRIMARY KEY,
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('incident', 'alarm')),
  subject_id TEXT NOT NULL,
  reviewer TEXT NOT NULL,
  body TEXT NOT NULL,
  log_index INTEGER NOT NULL UNIQUE,
  received_at INTEGER NOT NULL,
  UNIQUE (subject_kind, subject_id)
) STRICT;

-- A silent device raises one DEVICE_SILENT alarm per silence period (offered_hash: the time it was
-- last heard from), however many sweeps and processes see it.
CREATE UNIQUE INDEX alarms_silent ON alarms (device, offered_hash) WHERE kind = 'DEVICE_SILENT';
CREATE INDEX alarms_kind ON alarms (kind, id);
