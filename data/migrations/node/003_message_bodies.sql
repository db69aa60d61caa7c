-- Message bytes move out of the messages row into their own rowid table. In the WITHOUT ROWID
-- messages table a 4 KiB body left only ~7 rows per leaf page and spilled into an overflow page,
-- and dropping it after the last delivery rewrote the row (leaf + overflow pages into the WAL).
-- Now the body is inserted once, appended at the end of message_bodies, and deleted outright
-- when the message's deliveries are all final; the messages rows stay small and are not
-- touched by the drop. AUTOINCREMENT: a body id is never reused, so a finished message's
-- body_id can never point at another message's bytes. No FOREIGN KEY on body_id: deleting a
-- body would then have to search messages for referencing rows (no index on body_id).
-- Bytes stay a BLOB (byte fidelity); a NULL body_id or a missing row reads as an empty body.

CREATE TABLE message_bodies (
  id   INTEGER PRIMARY KEY AUTOINCREMENT,
  body BLOB NOT NULL
);

ALTER TABLE messages ADD COLUMN body_id INTEGER;

UPDATE messages SET body_id = t.n
FROM (SELECT id AS mid, row_number() OVER (ORDER BY id) AS n FROM messages WHERE length(body) > 0) AS t
WHERE t.mid = messages.id;

INSERT INTO message_bodies (id, body) SELECT body_id, body FROM messages WHERE body_id IS NOT NULL ORDER BY body_id;

ALTER TABLE messages DROP COLUMN body;
