-- The org log's leaves (level 0, node_key % 64 = 0) are SHA-256(0x00 || entries.hash) at the
-- entry's log_index: the server now computes them when a proof needs them instead of storing a
-- second row per accepted entry. Interior nodes (level 1 and up) stay in log_nodes.
DELETE FROM log_nodes WHERE node_key % 64 = 0;
