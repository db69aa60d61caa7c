-- The shadow report (issue 13; data/contracts/shadow.ts): what the new system would have done with the mail to domains
-- in shadow mode, fed by the nodes' 'shadow-verdict' events in the transaction that applies each batch, so an event is
-- counted once (events at or below the node's cursor are not applied again). Kept for
-- TIDINGS_SHADOW_REPORT_RETENTION (server/jobs/shadow-report-prune.ts).

-- Verdicts per UTC day (of the event's time), domain, address, verdict and reason.
CREATE TABLE shadow_counts (
  day     TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  domain  TEXT NOT NULL,
  address TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('deliver', 'tag', 'quarantine', 'reject', 'tempfail')),
  reason  TEXT NOT NULL CHECK (reason IN ('clean', 'unscanned', 'spam', 'virus', 'dmarc', 'unknown-user', 'scanner-unavailable')),
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (domain, day, address, verdict, reason)
) WITHOUT ROWID;
CREATE INDEX shadow_counts_by_day ON shadow_counts(day);

-- The latest samples (headers only) per domain, address, verdict and reason; ingest trims each to
-- SHADOW_SAMPLES_KEPT after adding to it. `at` is the event's time (ms since the epoch, the node's clock).
CREATE TABLE shadow_samples (
  id           INTEGER PRIMARY KEY,
  domain       TEXT NOT NULL,
  address      TEXT NOT NULL,
  verdict      TEXT NOT NULL,
  reason       TEXT NOT NULL,
  at           INTEGER NOT NULL,
  queue_id     TEXT NOT NULL,
  score        REAL,
  h_from       TEXT,
  h_subject    TEXT,
  h_date       TEXT,
  h_message_id TEXT
);
CREATE INDEX shadow_samples_by_key ON shadow_samples(domain, address, verdict, reason, at, id);
CREATE INDEX shadow_samples_by_at ON shadow_samples(at);
