-- The node's replica of the backend mail configuration: what RCPT resolution reads, kept current by config sync.
-- Rows mirror the records of data/contracts/mx-config.ts; keys are canonical lower-case names and addresses.

CREATE TABLE replica_domains (
  name        TEXT PRIMARY KEY,
  mode        TEXT NOT NULL CHECK (mode IN ('legacy', 'shadow', 'active')),
  legacy_host TEXT,
  legacy_port INTEGER,
  catch_all   TEXT
) WITHOUT ROWID;

CREATE TABLE replica_mailboxes (
  address   TEXT PRIMARY KEY,
  domain    TEXT NOT NULL,
  delivery  TEXT NOT NULL CHECK (delivery IN ('maildir', 'lmtp')),
  lmtp_host TEXT,
  lmtp_port INTEGER
) WITHOUT ROWID;
CREATE INDEX replica_mailboxes_domain ON replica_mailboxes(domain);

CREATE TABLE replica_aliases (
  address         TEXT PRIMARY KEY,
  domain          TEXT NOT NULL,
  targets         TEXT NOT NULL CHECK (json_valid(targets)),  -- JSON array: domain lower-case, local part as configured (resolved case-insensitively when hosted)
  keep_local_copy INTEGER NOT NULL CHECK (keep_local_copy IN (0, 1))
) WITHOUT ROWID;
CREATE INDEX replica_aliases_domain ON replica_aliases(domain);

-- One row: the backend change-log version this replica reflects, and when it last heard from the backend.
CREATE TABLE replica_state (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  version        INTEGER NOT NULL,
  synced_at      TEXT,
  last_error     TEXT,
  last_error_at  TEXT
);
INSERT INTO replica_state (id, version) VALUES (1, 0);
