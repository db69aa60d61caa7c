-- Telemetry shipping (issue 10): the node ships its event log to the backend by cursor and prunes what
-- the backend acknowledged.

-- One row: the highest event seq the backend acknowledged (its TelemetryAck cursor), and when that was
-- written (ms since the epoch; NULL: never). Only an acknowledgement moves it; a 409 may move it back.
CREATE TABLE telemetry_cursor (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  acked_seq  INTEGER NOT NULL CHECK (acked_seq >= 0),
  updated_at INTEGER
);
INSERT INTO telemetry_cursor (id, acked_seq, updated_at) VALUES (1, 0, NULL);

-- Pruning deletes shipped events (seq <= acked_seq) older than the retention, a few hundred at a time,
-- by the primary key (mailsystem/telemetry/events.ts): no index on events (at), which every event written
-- on the SMTP path would have to update too.

-- Why a message is in the queue: accepted from a client ('smtp') or a DSN this node generated ('dsn').
-- It lived in the 'accepted' event's detail JSON ({"origin":"dsn"}); now it is a column, and a DSN's
-- creation is logged as a 'dsn' event (data/contracts/telemetry.ts) so it is never counted as accepted.
ALTER TABLE messages ADD COLUMN origin TEXT NOT NULL DEFAULT 'smtp' CHECK (origin IN ('smtp', 'dsn'));
UPDATE messages SET origin = 'dsn'
WHERE id IN (SELECT message_id FROM events WHERE type = 'accepted' AND json_valid(detail) AND json_extract(detail, '$.origin') = 'dsn');
UPDATE events SET type = 'dsn' WHERE type = 'accepted' AND json_valid(detail) AND json_extract(detail, '$.origin') = 'dsn';
UPDATE events SET detail = json_remove(detail, '$.origin')
WHERE type IN ('accepted', 'dsn') AND json_valid(detail) AND json_extract(detail, '$.origin') IS NOT NULL;
