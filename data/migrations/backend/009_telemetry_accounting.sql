-- The accounting line (issue 10; data/contracts/telemetry-accounting.ts): per node, running counts of its events in
-- deliveries, and the queue readings of its heartbeats paired with those counts at exactly the seq the node had
-- written when it read its queue. server/store/telemetry-accounting.ts keeps both, in the transactions that apply a
-- batch or a heartbeat.

-- Per node: its events counted up to `seq` (always the node's telemetry cursor), since `origin_seq` (the cursor when
-- counting began: 0 when every event of the node is counted; for a node that shipped before this migration, its
-- cursor then). accepted and dsn_deliveries are the deliveries 'accepted' and 'dsn' events created; uncounted the
-- accepted or dsn events that did not say how many (a node older than that field). A heartbeat whose seq the backend
-- does not hold yet (shipping lags) waits in pending_*, and becomes a checkpoint once the batch that reaches its seq
-- is applied.
CREATE TABLE telemetry_accounts (
  node_id             INTEGER PRIMARY KEY REFERENCES mx_nodes(id) ON DELETE CASCADE,
  seq                 INTEGER NOT NULL CHECK (seq >= 0),
  origin_seq          INTEGER NOT NULL CHECK (origin_seq >= 0),
  accepted_messages   INTEGER NOT NULL DEFAULT 0,
  accepted            INTEGER NOT NULL DEFAULT 0,
  dsn_messages        INTEGER NOT NULL DEFAULT 0,
  dsn_deliveries      INTEGER NOT NULL DEFAULT 0,
  delivered           INTEGER NOT NULL DEFAULT 0,
  bounced             INTEGER NOT NULL DEFAULT 0,
  quarantined         INTEGER NOT NULL DEFAULT 0,
  discarded           INTEGER NOT NULL DEFAULT 0,
  uncounted           INTEGER NOT NULL DEFAULT 0,
  pending_seq         INTEGER,
  pending_at          INTEGER,
  pending_queue_depth INTEGER,
  skipped             INTEGER NOT NULL DEFAULT 0  -- heartbeats that arrived after events past their seq (not pairable)
);

-- A node's queue reading (heartbeat `at`, by the node's clock; queue_depth) with its counts at the reading's seq.
-- Readings of one minute at the same seq say the same (nothing happened between them): the latest of them is kept, so
-- an idle node keeps one per minute and a busy one each distinct reading. Older than 14 days, the last of each hour.
CREATE TABLE telemetry_checkpoints (
  node_id           INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  minute            INTEGER NOT NULL CHECK (minute >= 0 AND minute % 60000 = 0),
  at                INTEGER NOT NULL,
  seq               INTEGER NOT NULL,
  queue_depth       INTEGER NOT NULL CHECK (queue_depth >= 0),
  accepted_messages INTEGER NOT NULL,
  accepted          INTEGER NOT NULL,
  dsn_messages      INTEGER NOT NULL,
  dsn_deliveries    INTEGER NOT NULL,
  delivered         INTEGER NOT NULL,
  bounced           INTEGER NOT NULL,
  quarantined       INTEGER NOT NULL,
  discarded         INTEGER NOT NULL,
  uncounted         INTEGER NOT NULL,
  PRIMARY KEY (node_id, minute, seq)
) WITHOUT ROWID;
CREATE INDEX telemetry_checkpoints_by_at ON telemetry_checkpoints(node_id, at);

-- Nodes that shipped before this migration: their counts start at their cursor (what came before is not counted, so
-- the line starts at their first reading after the upgrade).
INSERT INTO telemetry_accounts (node_id, seq, origin_seq) SELECT node_id, cursor, cursor FROM telemetry_cursors;
