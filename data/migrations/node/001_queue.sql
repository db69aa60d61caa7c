-- MX node queue: accepted message bytes, one delivery row per target route, and the event log.
-- Times are integer milliseconds since the Unix epoch (UTC): the worker compares and sorts them on
-- every claim, and latency is a subtraction. Message bytes are a BLOB, never text (byte fidelity).

CREATE TABLE messages (
  id            TEXT PRIMARY KEY,                 -- queue id, also the stem of Maildir file names
  received_at   INTEGER NOT NULL,
  envelope_from TEXT NOT NULL,                    -- '' is the null sender: never bounced to
  client_ip     TEXT NOT NULL DEFAULT '',
  helo          TEXT NOT NULL DEFAULT '',
  size          INTEGER NOT NULL,
  is_spam       INTEGER NOT NULL DEFAULT 0 CHECK (is_spam IN (0, 1)),  -- policy verdict: no DSN for spam
  body          BLOB NOT NULL
) WITHOUT ROWID;

-- One row per (message, target route). state 'queued' is the only state the worker claims.
CREATE TABLE deliveries (
  id               INTEGER PRIMARY KEY,
  message_id       TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  recipient        TEXT NOT NULL,                 -- envelope recipient as accepted
  route_kind       TEXT NOT NULL CHECK (route_kind IN ('maildir', 'lmtp', 'forward', 'legacy')),
  route            TEXT NOT NULL,                 -- the Route as JSON, resolved at RCPT time
  state            TEXT NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'delivered', 'bounced', 'quarantined', 'discarded')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  next_attempt_at  INTEGER NOT NULL,
  first_attempt_at INTEGER,
  last_attempt_at  INTEGER,
  last_response    TEXT,
  lease_owner      TEXT,                          -- worker id holding the claim
  lease_until      INTEGER,                       -- a crashed worker's claim lapses at this time
  delayed_dsn_at   INTEGER,                       -- when the "delayed" DSN was enqueued (once)
  done_at          INTEGER
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'queued';
CREATE INDEX deliveries_message ON deliveries (message_id);

-- Append-only event log; seq is the telemetry shipper's cursor, so it never goes backwards.
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('accepted', 'rejected', 'delivered', 'deferred', 'bounced',
                                            'quarantined', 'discarded', 'dsn')),
  message_id  TEXT,
  delivery_id INTEGER,
  recipient   TEXT,
  route_kind  TEXT,
  latency_ms  INTEGER,                            -- delivered: accept-to-delivery
  reason      TEXT,                               -- rejected/deferred/bounced: short machine reason
  detail      TEXT                                -- JSON with anything else worth shipping
);
