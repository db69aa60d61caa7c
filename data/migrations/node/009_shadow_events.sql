-- The shadow dry run (issue 13, data/contracts/shadow.ts): a 'shadow-verdict' event per recipient of a shadow domain,
-- its verdict as JSON in detail. events.type's CHECK lists the types, so the table is rebuilt as in 007, keeping the
-- highest seq ever handed out (the telemetry shipper's cursor must never go backwards).

CREATE TEMP TABLE events_seq_009 AS
  SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
             coalesce((SELECT max(seq) FROM events), 0)) AS seq;

CREATE TABLE events_new (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('accepted', 'rejected', 'delivered', 'deferred', 'bounced',
                                            'quarantined', 'discarded', 'dsn', 'released', 'purged',
                                            'quarantine-refused', 'shadow-verdict')),
  message_id  TEXT,
  delivery_id INTEGER,
  recipient   TEXT,
  route_kind  TEXT,
  latency_ms  INTEGER,                            -- delivered: accept-to-delivery
  reason      TEXT,                               -- rejected/deferred/bounced/quarantined/purged/quarantine-refused: short machine reason
  detail      TEXT                                -- JSON with anything else worth shipping (shadow-verdict: the verdict)
);
INSERT INTO events_new (seq, at, type, message_id, delivery_id, recipient, route_kind, latency_ms, reason, detail)
  SELECT seq, at, type, message_id, delivery_id, recipient, route_kind, latency_ms, reason, detail FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

DELETE FROM sqlite_sequence WHERE name IN ('events', 'events_new');
INSERT INTO sqlite_sequence (name, seq) SELECT 'events', seq FROM temp.events_seq_009;
DROP TABLE temp.events_seq_009;
