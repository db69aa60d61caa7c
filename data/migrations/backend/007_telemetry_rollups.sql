-- Hour and day rollups of the minute telemetry (issue 10), kept by server/jobs/telemetry-rollup.ts. An hour starts at a
-- multiple of 3,600,000 ms, a day at a multiple of 86,400,000 ms (UTC days). Each table mirrors its minute table.
--
-- How rolling stays exact and idempotent:
-- - Rolling a period RECOMPUTES it from its source (an hour from its minutes, a day from its hours): delete the
--   period's rows and insert the sums, in one transaction. Rolling it again, or after a restart, writes the same rows.
-- - Which periods to roll: ingest marks the hour of every minute it writes in telemetry_dirty_hours (in the same
--   transaction as the counts); rolling an hour clears its mark and marks its day in telemetry_dirty_days. A
--   backlog that lands in an hour rolled long ago marks it again, so the hour and its day are corrected on the next
--   run; a period nothing wrote to is never rolled twice.
-- - Pruning: telemetry_rollup_watermarks holds, per source granularity, the boundary below which its rows were
--   pruned (always period-aligned). Pruning rolls the dirty periods below the new boundary first, in the same
--   transaction, so no unrolled row is ever deleted. Below the boundary the period's rows are complete, and minute
--   rows that show up there later are only a late backlog: rolling such an hour FOLDS them in (adds them to the
--   hour's rows and deletes them) instead of recomputing from the few minutes left; the same for days and hours.

CREATE TABLE telemetry_hours (
  node_id INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  hour    INTEGER NOT NULL CHECK (hour >= 0 AND hour % 3600000 = 0),
  route   TEXT NOT NULL CHECK (route IN ('', 'maildir', 'lmtp', 'forward', 'legacy')),
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'delivered', 'deferred', 'bounced', 'quarantined', 'discarded', 'dsn')),
  reason  TEXT NOT NULL,
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (node_id, hour, route, outcome, reason)
) WITHOUT ROWID;
CREATE INDEX telemetry_hours_by_hour ON telemetry_hours(hour);

CREATE TABLE telemetry_latency_hours (
  node_id INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  hour    INTEGER NOT NULL CHECK (hour >= 0 AND hour % 3600000 = 0),
  route   TEXT NOT NULL CHECK (route IN ('maildir', 'lmtp', 'forward', 'legacy')),
  bucket  INTEGER NOT NULL CHECK (bucket BETWEEN 0 AND 31),
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (node_id, hour, route, bucket)
) WITHOUT ROWID;
CREATE INDEX telemetry_latency_hours_by_hour ON telemetry_latency_hours(hour);

CREATE TABLE telemetry_gauge_hours (
  node_id              INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  hour                 INTEGER NOT NULL CHECK (hour >= 0 AND hour % 3600000 = 0),
  queue_depth_max      INTEGER NOT NULL,
  oldest_queued_ms_max INTEGER,
  in_retry_max         INTEGER NOT NULL,
  PRIMARY KEY (node_id, hour)
) WITHOUT ROWID;
CREATE INDEX telemetry_gauge_hours_by_hour ON telemetry_gauge_hours(hour);

CREATE TABLE telemetry_days (
  node_id INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  day     INTEGER NOT NULL CHECK (day >= 0 AND day % 86400000 = 0),
  route   TEXT NOT NULL CHECK (route IN ('', 'maildir', 'lmtp', 'forward', 'legacy')),
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'delivered', 'deferred', 'bounced', 'quarantined', 'discarded', 'dsn')),
  reason  TEXT NOT NULL,
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (node_id, day, route, outcome, reason)
) WITHOUT ROWID;
CREATE INDEX telemetry_days_by_day ON telemetry_days(day);

CREATE TABLE telemetry_latency_days (
  node_id INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  day     INTEGER NOT NULL CHECK (day >= 0 AND day % 86400000 = 0),
  route   TEXT NOT NULL CHECK (route IN ('maildir', 'lmtp', 'forward', 'legacy')),
  bucket  INTEGER NOT NULL CHECK (bucket BETWEEN 0 AND 31),
  count   INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (node_id, day, route, bucket)
) WITHOUT ROWID;
CREATE INDEX telemetry_latency_days_by_day ON telemetry_latency_days(day);

CREATE TABLE telemetry_gauge_days (
  node_id              INTEGER NOT NULL REFERENCES mx_nodes(id) ON DELETE CASCADE,
  day                  INTEGER NOT NULL CHECK (day >= 0 AND day % 86400000 = 0),
  queue_depth_max      INTEGER NOT NULL,
  oldest_queued_ms_max INTEGER,
  in_retry_max         INTEGER NOT NULL,
  PRIMARY KEY (node_id, day)
) WITHOUT ROWID;
CREATE INDEX telemetry_gauge_days_by_day ON telemetry_gauge_days(day);

-- Hours whose minute rows changed since the hour was last rolled, and days whose hour rows did.
CREATE TABLE telemetry_dirty_hours (hour INTEGER PRIMARY KEY CHECK (hour >= 0 AND hour % 3600000 = 0));
CREATE TABLE telemetry_dirty_days (day INTEGER PRIMARY KEY CHECK (day >= 0 AND day % 86400000 = 0));

-- Per source granularity, the boundary below which its rows were pruned (0: nothing pruned yet).
-- Invariant kept by the job: days' source boundary (hours pruned) <= hours' source boundary (minutes pruned).
CREATE TABLE telemetry_rollup_watermarks (
  source        TEXT PRIMARY KEY CHECK (source IN ('minutes', 'hours')),
  pruned_before INTEGER NOT NULL CHECK (pruned_before >= 0)
);
INSERT INTO telemetry_rollup_watermarks (source, pruned_before) VALUES ('minutes', 0), ('hours', 0);

-- Minutes written before this migration are rolled by the job's first run.
INSERT OR IGNORE INTO telemetry_dirty_hours (hour)
  SELECT minute - minute % 3600000 FROM telemetry_minutes
  UNION SELECT minute - minute % 3600000 FROM telemetry_latency_minutes
  UNION SELECT minute - minute % 3600000 FROM telemetry_gauge_minutes;
