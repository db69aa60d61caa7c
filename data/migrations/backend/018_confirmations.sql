-- Subscribing (issue 14): the double opt-in mail, the form's rate limit, and what the subscribers' link tokens are
-- derived from.

-- One confirmation mail per pending follow (subscriptions.confirmed_at IS NULL), queued in the transaction that made the
-- request, so a crash cannot lose it; the confirmation job sends it with retries. The link's secret is not kept here:
-- the job draws a new one when it claims the row and stores only its SHA-256 in subscriptions.confirm_hash, so after a
-- resend only the newest link confirms.
CREATE TABLE subscription_confirmations (
  subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions(id) ON DELETE CASCADE,
  state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,              -- ms since the epoch
  lease_until     INTEGER,                       -- the job holds the row until then (ms): a crashed send is retried after it
  last_error      TEXT,
  sent_at         TEXT
);
CREATE INDEX subscription_confirmations_due ON subscription_confirmations(next_attempt_at) WHERE state = 'queued';

-- Subscribe requests per client IP and per address (the SHA-256 of the lower-cased address: an address nobody
-- confirmed is not stored in the clear), kept for the rate limit's window.
CREATE TABLE subscribe_attempts (
  id    INTEGER PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('ip', 'address')),
  key   TEXT NOT NULL,
  at    INTEGER NOT NULL                         -- ms since the epoch
);
CREATE INDEX subscribe_attempts_key ON subscribe_attempts(scope, key, at);

-- The HMAC key of the subscribers' manage and unsubscribe tokens (server/domain/subscription-links.ts), drawn once.
CREATE TABLE subscription_link_secret (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  secret TEXT NOT NULL CHECK (length(secret) = 64)
);
INSERT INTO subscription_link_secret (id, secret) VALUES (1, lower(hex(randomblob(32))));

-- The next subscriber id. A token is derived from the subscriber's id, so an id is never given out twice (subscribers
-- has no AUTOINCREMENT): the link in an old message of a deleted subscriber can never reach a later one.
CREATE TABLE subscriber_ids (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  next_id INTEGER NOT NULL
);
INSERT INTO subscriber_ids (id, next_id) SELECT 1, coalesce(max(id), 0) + 1 FROM subscribers;
