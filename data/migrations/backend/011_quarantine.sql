-- The quarantine index (issue 12; data/contracts/quarantine.ts). The quarantined copies (bytes and verdict) live on the
-- MX node that holds them; the backend keeps this index of them, fed by the node's event log in the transaction that
-- applies each batch ('quarantined' with its entry → held; 'released' / 'purged' → their status), and staff act on it
-- through quarantine_actions, which the node fetches on its config-sync timer.

-- One row per quarantined copy, named by its node and the node's delivery id. A node whose database was rebuilt hands
-- out delivery ids again: a 'quarantined' event for a (node, delivery) held under ANOTHER message id is a new copy and
-- replaces the row (the old copy's pending actions are superseded); the same message id again is a replay. Times are milliseconds since the epoch:
-- quarantined_at is the event's `at` (the node's clock), status_at the `at` of the event that moved it.
CREATE TABLE quarantine_index (
  node_id        INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  delivery_id    INTEGER NOT NULL CHECK (delivery_id > 0),
  message_id     TEXT NOT NULL,
  reason         TEXT NOT NULL CHECK (reason IN ('spam', 'virus')),
  recipient      TEXT NOT NULL,
  -- Where a release takes the copy: its route kind and target (mailbox address, external forward address, old MX).
  route_kind     TEXT NOT NULL CHECK (route_kind IN ('maildir', 'lmtp', 'forward', 'legacy')),
  target         TEXT NOT NULL,
  sender         TEXT NOT NULL,
  subject        TEXT,
  size           INTEGER NOT NULL CHECK (size >= 0),
  score          REAL,
  symbols        TEXT NOT NULL CHECK (json_valid(symbols) AND json_type(symbols) = 'array'),
  virus          TEXT,
  quarantined_at INTEGER NOT NULL,
  status         TEXT NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'released', 'purged')),
  status_at      INTEGER,
  purge_reason   TEXT CHECK ((status = 'purged') = (purge_reason IS NOT NULL) AND (purge_reason IS NULL OR purge_reason IN ('staff', 'retention'))),
  PRIMARY KEY (node_id, delivery_id)
) WITHOUT ROWID;
-- The list: newest first (an index read backwards), over everything, one status or one node. The text search filters
-- these rows further: a LIKE over the text columns cannot use an index, and the list is bounded by its limit.
CREATE INDEX quarantine_index_newest ON quarantine_index(quarantined_at, node_id, delivery_id);
CREATE INDEX quarantine_index_by_status ON quarantine_index(status, quarantined_at, node_id, delivery_id);
CREATE INDEX quarantine_index_by_node ON quarantine_index(node_id, quarantined_at, delivery_id);
-- Copies that left the quarantine, oldest first: the rollup job prunes them past their retention.
CREATE INDEX quarantine_index_left ON quarantine_index(status_at) WHERE status <> 'held';

-- Staff requests for a copy, pending until the event for that copy arrives from its node: 'done' when the event names
-- the action, 'superseded' for any other (a retention purge first, or a second request), 'refused' when the node
-- applied no change for it (its 'quarantine-refused' event, with why: the copy is not in its quarantine, or a release
-- of a virus). At most one pending per copy.
-- requested_by is kept when the user is removed (the audit log names them too).
CREATE TABLE quarantine_actions (
  id           INTEGER PRIMARY KEY,
  node_id      INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  delivery_id  INTEGER NOT NULL,
  -- The copy's message: the node applies the action only to a delivery of this message.
  message_id   TEXT NOT NULL,
  action       TEXT NOT NULL CHECK (action IN ('release', 'delete')),
  requested_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  requested_at INTEGER NOT NULL,
  state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'superseded', 'refused')),
  resolved_at  INTEGER,
  refused_why  TEXT CHECK ((state = 'refused') = (refused_why IS NOT NULL) AND (refused_why IS NULL OR refused_why IN ('not-quarantined', 'virus'))),
  CHECK ((state = 'pending') = (resolved_at IS NULL)),
  FOREIGN KEY (node_id, delivery_id) REFERENCES quarantine_index(node_id, delivery_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX quarantine_actions_one_pending ON quarantine_actions(node_id, delivery_id) WHERE state = 'pending';
CREATE INDEX quarantine_actions_pending ON quarantine_actions(node_id, id) WHERE state = 'pending';
-- A copy's actions, newest first: the list shows the latest one when the node refused it.
CREATE INDEX quarantine_actions_by_copy ON quarantine_actions(node_id, delivery_id, id);

-- Whether the node scans message content ('off' only with TIDINGS_SCAN=off); NULL from a node older than the field.
ALTER TABLE telemetry_heartbeats ADD COLUMN scanning TEXT CHECK (scanning IS NULL OR scanning IN ('on', 'off'));

-- The accounting line counts released copies as an inflow (a copy came back into the queue): see
-- data/contracts/telemetry-accounting.ts.
ALTER TABLE telemetry_accounts ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
ALTER TABLE telemetry_checkpoints ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
