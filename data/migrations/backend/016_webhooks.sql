-- Webhooks (issue 14): staff register URLs for everything or for one section; the consumer 'webhook' of notify_events
-- fans each event out to one delivery per matching enabled endpoint, in the transaction that advances its cursor, and
-- the sender POSTs each delivery (Standard Webhooks signature) until the receiver answers 2xx or the retries run out.
CREATE TABLE webhook_endpoints (
  id                   INTEGER PRIMARY KEY,
  url                  TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
  section_id           INTEGER REFERENCES sections(id) ON DELETE CASCADE,   -- null: every event
  description          TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 200),
  -- "whsec_" + base64 of 32 random bytes: the HMAC key, kept because every request is signed with it. Shown to staff
  -- once, at creation; never returned by the API, the pages or the CLI afterwards, and never written to the audit log.
  secret               TEXT NOT NULL CHECK (secret LIKE 'whsec_%'),
  created_at           TEXT NOT NULL,
  created_by           TEXT NOT NULL,
  -- Deliveries that ended in failure (every attempt failed) in a row; a success resets it. At the threshold the
  -- endpoint is disabled (disabled_at set) and gets no new deliveries until staff enable it again.
  consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  disabled_at          TEXT,
  disabled_reason      TEXT
);

CREATE TABLE webhook_deliveries (
  id              INTEGER PRIMARY KEY,
  event_id        INTEGER NOT NULL REFERENCES notify_events(id) ON DELETE CASCADE,
  endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,              -- ms since the epoch
  lease_until     INTEGER,                       -- the sender holds the row until then (ms): a crashed send is retried after it
  finished_at     TEXT,
  UNIQUE (event_id, endpoint_id)                 -- the webhook-id: one delivery per event and endpoint
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'queued';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);

-- The delivery log staff see: one row per attempt.
CREATE TABLE webhook_attempts (
  id           INTEGER PRIMARY KEY,
  delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt      INTEGER NOT NULL CHECK (attempt >= 1),
  at           TEXT NOT NULL,
  status       INTEGER,                          -- the HTTP status; null when no answer came
  error        TEXT,                             -- why it failed (refused address, timeout, connection error, status)
  duration_ms  INTEGER NOT NULL CHECK (duration_ms >= 0)
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id);
