-- Telemetry from MX nodes (issue 10; the wire contract is data/contracts/telemetry.ts). Times are milliseconds since
-- the epoch, as on the wire; a minute is the start of its minute (at - at % 60000) by the event's own clock.

-- The highest event seq applied per node: a batch's events at or below it are already counted (idempotency by
-- node + seq), and a batch starting after it would skip events (refused, the node resends from here).
CREATE TABLE telemetry_cursors (
  node_id    INTEGER PRIMARY KEY REFERENCES mx_nodes(id) ON DELETE CASCADE,
  cursor     INTEGER NOT NULL CHECK (cursor >= 0),
  updated_at INTEGER NOT NULL
);

-- Events counted per node, minute, route ('' for events without one), outcome (the event type) and reason ('' without).
CREATE TABLE telemetry_minutes (
  node_id INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  minute  INTEGER NOT NULL CHECK (minute >= 0 AND minute % 60000 = 0),
  route   TEXT NOT NULL CHECK (route IN ('', 'maildir', 'lmtp', 'forward', 'legacy')),
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'delivered', 'deferred', 'bounced', 'quarantined', 'discarded', 'dsn')),
  reason  TEXT NOT NULL,
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (node_id, minute, route, outcome, reason)
) WITHOUT ROWID;
CREATE INDEX telemetry_minutes_by_minute ON telemetry_minutes(minute);

-- Accept-to-delivery latency of 'delivered' events: counts per bucket of LATENCY_BUCKETS_MS (31 bounds, then +Inf = 31).
CREATE TABLE telemetry_latency_minutes (
  node_id INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  minute  INTEGER NOT NULL CHECK (minute >= 0 AND minute % 60000 = 0),
  route   TEXT NOT NULL CHECK (route IN ('maildir', 'lmtp', 'forward', 'legacy')),
  bucket  INTEGER NOT NULL CHECK (bucket BETWEEN 0 AND 31),
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (node_id, minute, route, bucket)
) WITHOUT ROWID;
CREATE INDEX telemetry_latency_minutes_by_minute ON telemetry_latency_minutes(minute);

-- The latest heartbeat per node: received_at by the backend's clock (staleness), the rest as the node read it.
CREATE TABLE telemetry_heartbeats (
  node_id          INTEGER PRIMARY KEY REFERENCES mx_nodes(id) ON DELETE CASCADE,
  received_at      INTEGER NOT NULL,
  at               INTEGER NOT NULL,
  queue_depth      INTEGER NOT NULL CHECK (queue_depth >= 0),
  oldest_queued_ms INTEGER CHECK (oldest_queued_ms IS NULL OR oldest_queued_ms >= 0),
  in_retry         INTEGER NOT NULL CHECK (in_retry >= 0),
  config_version   INTEGER NOT NULL CHECK (config_version >= 0),
  last_sync_at     INTEGER,
  last_seq         INTEGER NOT NULL CHECK (last_seq >= 0)
);

-- Heartbeat gauges folded per minute (of the heartbeat's at) for charts: the largest reading of the minute.
CREATE TABLE telemetry_gauge_minutes (
  node_id              INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  minute               INTEGER NOT NULL CHECK (minute >= 0 AND minute % 60000 = 0),
  queue_depth_max      INTEGER NOT NULL,
  oldest_queued_ms_max INTEGER,
  in_retry_max         INTEGER NOT NULL,
  PRIMARY KEY (node_id, minute)
) WITHOUT ROWID;

-- Refused telemetry requests, one counter per (node, reason): bounded rows, however many refusals. node_id is NULL
-- when no node could be named (a missing, wrong or revoked token).
CREATE TABLE telemetry_refusals (
  id      INTEGER PRIMARY KEY,
  node_id INTEGER REFERENCES mx_nodes(id) ON DELETE CASCADE,
  reason  TEXT NOT NULL CHECK (reason IN ('bad-token', 'malformed', 'too-large', 'gap', 'future')),
  count   INTEGER NOT NULL CHECK (count > 0),
  last_at INTEGER NOT NULL
);
-- NULLs are distinct in a UNIQUE index, so the node-less counter is keyed as node 0 (ids start at 1).
CREATE UNIQUE INDEX telemetry_refusals_key ON telemetry_refusals(ifnull(node_id, 0), reason);
