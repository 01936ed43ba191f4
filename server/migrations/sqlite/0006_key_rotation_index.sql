-- Keep in step with ../postgres/0006_key_rotation_index.sql.
-- Every device key a journal used (its genesis key and each device.key-rotated entry's new key) is
-- barred from being enrolled as a custodian key later (server/ingest.ts): the few rotation
-- entries of a device are found through this partial index, never by a pass over its entries.
CREATE INDEX entries_key_rotations ON entries (device, seq) WHERE type = 'device.key-rotated';
