-- Email subscriptions (issue 14). A subscriber is one address, stored only with consent: a request that is never
-- confirmed is deleted after 48 hours, and "delete me" deletes the row (no soft delete of the address). A subscriber
-- follows everything, sections or tasks; each follow is confirmed by the double opt-in link before anything but the
-- confirmation is sent for it.
CREATE TABLE subscribers (
  id              INTEGER PRIMARY KEY,
  email           TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(email) BETWEEN 3 AND 254),
  -- SHA-256 (hex) of the secret in the subscriber's manage and unsubscribe links; the secret itself is only in mail.
  token_hash      TEXT NOT NULL UNIQUE,
  created_at      TEXT NOT NULL,
  -- Permanent (5xx) failures in a row; at the threshold the subscriber is disabled and gets nothing until they
  -- subscribe again.
  failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
  disabled_at     TEXT,
  disabled_reason TEXT
);

CREATE TABLE subscriptions (
  id              INTEGER PRIMARY KEY,
  subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
  scope           TEXT NOT NULL CHECK (scope IN ('all', 'section', 'task')),
  section_id      INTEGER REFERENCES sections(id) ON DELETE CASCADE,
  task_id         INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
  created_at      TEXT NOT NULL,
  -- Null until the double opt-in link is followed. SHA-256 (hex) of that link's secret, cleared on confirmation.
  confirmed_at    TEXT,
  confirm_hash    TEXT UNIQUE,
  CHECK ((scope = 'all' AND section_id IS NULL AND task_id IS NULL)
      OR (scope = 'section' AND section_id IS NOT NULL AND task_id IS NULL)
      OR (scope = 'task' AND task_id IS NOT NULL AND section_id IS NULL)),
  CHECK ((confirmed_at IS NULL) = (confirm_hash IS NOT NULL))
);
CREATE UNIQUE INDEX subscriptions_one ON subscriptions(subscriber_id, scope, coalesce(section_id, 0), coalesce(task_id, 0));
CREATE INDEX subscriptions_section ON subscriptions(section_id) WHERE section_id IS NOT NULL;
CREATE INDEX subscriptions_task ON subscriptions(task_id) WHERE task_id IS NOT NULL;
CREATE INDEX subscriptions_pending ON subscriptions(created_at) WHERE confirmed_at IS NULL;

-- The email fan-out (consumer 'email' of notify_events): one row per event and subscriber, created in the transaction
-- that advances the consumer's cursor. The primary key is the idempotency key: an event is sent to a subscriber at most
-- once per row, and the row is marked sent in the transaction that records the relay's answer.
CREATE TABLE notify_mail (
  event_id        INTEGER NOT NULL REFERENCES notify_events(id) ON DELETE CASCADE,
  subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
  state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,              -- ms since the epoch
  lease_until     INTEGER,                       -- a sender holds the row until then (ms)
  last_error      TEXT,
  sent_at         TEXT,
  PRIMARY KEY (event_id, subscriber_id)
) WITHOUT ROWID;
CREATE INDEX notify_mail_due ON notify_mail(next_attempt_at) WHERE state = 'queued';
