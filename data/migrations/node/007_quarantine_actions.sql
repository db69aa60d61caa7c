-- The quarantine's way out (issue 12): staff release a copy (delivered as if clean) or delete it, and the retention job
-- deletes old ones. Each is an event of its own, 'released' or 'purged' (data/contracts/quarantine.ts), written in the
-- transaction that changes the copy, so the backend's quarantine index follows the node's log. A staff action that
-- changes nothing (the copy is not in the quarantine, or a release of a virus) writes 'quarantine-refused', so that the
-- backend resolves it too.
--
-- events.type has a CHECK listing the types and SQLite cannot alter a CHECK, so the table is rebuilt. Its seq is the
-- telemetry shipper's cursor (AUTOINCREMENT) and must never go backwards: DROP TABLE forgets the table's
-- sqlite_sequence row, and a copy of a log that pruning emptied would start again at 1, under seqs the backend already
-- holds. So the highest seq ever handed out is saved first and written back after the rename. The migration runner
-- applies this file inside its one transaction (data/db.ts); no foreign key refers to events.

CREATE TEMP TABLE events_seq_007 AS
  SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
             coalesce((SELECT max(seq) FROM events), 0)) AS seq;

CREATE TABLE events_new (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('accepted', 'rejected', 'delivered', 'deferred', 'bounced',
                                            'quarantined', 'discarded', 'dsn', 'released', 'purged',
                                            'quarantine-refused')),
  message_id  TEXT,
  delivery_id INTEGER,
  recipient   TEXT,
  route_kind  TEXT,
  latency_ms  INTEGER,                            -- delivered: accept-to-delivery
  reason      TEXT,                               -- rejected/deferred/bounced/quarantined/purged/quarantine-refused: short machine reason
  detail      TEXT                                -- JSON with anything else worth shipping
);
INSERT INTO events_new (seq, at, type, message_id, delivery_id, recipient, route_kind, latency_ms, reason, detail)
  SELECT seq, at, type, message_id, delivery_id, recipient, route_kind, latency_ms, reason, detail FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

DELETE FROM sqlite_sequence WHERE name IN ('events', 'events_new');
INSERT INTO sqlite_sequence (name, seq) SELECT 'events', seq FROM temp.events_seq_007;
DROP TABLE temp.events_seq_007;

-- What the backend's index shows of a copy (a QuarantineEntry) is kept once, in its 'quarantined' event's detail.
