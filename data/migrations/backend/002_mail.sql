-- Mail configuration: hosted domains, mailboxes, aliases, MX node tokens, and the versioned change log nodes sync from.
-- Addresses and domain names are stored in canonical lower case; the API canonicalises before writing.

CREATE TABLE mail_domains (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE CHECK (name = lower(name) AND length(name) BETWEEN 3 AND 253),
  mode        TEXT NOT NULL DEFAULT 'active' CHECK (mode IN ('legacy', 'shadow', 'active')),
  legacy_host TEXT,
  legacy_port INTEGER CHECK (legacy_port IS NULL OR legacy_port BETWEEN 1 AND 65535),
  catch_all   TEXT CHECK (catch_all IS NULL OR catch_all = lower(catch_all)),  -- address receiving unknown local parts
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  -- relaying to the old MX needs to know where it is
  CHECK (mode = 'active' OR legacy_host IS NOT NULL)
);

CREATE TABLE mail_mailboxes (
  id         INTEGER PRIMARY KEY,
  domain_id  INTEGER NOT NULL REFERENCES mail_domains(id) ON DELETE RESTRICT,
  address    TEXT NOT NULL UNIQUE CHECK (address = lower(address) AND instr(address, '@') > 1),
  delivery   TEXT NOT NULL CHECK (delivery IN ('maildir', 'lmtp')),
  lmtp_host  TEXT,
  lmtp_port  INTEGER CHECK (lmtp_port IS NULL OR lmtp_port BETWEEN 1 AND 65535),
  created_at TEXT NOT NULL,
  CHECK ((delivery = 'maildir' AND lmtp_host IS NULL AND lmtp_port IS NULL)
      OR (delivery = 'lmtp' AND lmtp_host IS NOT NULL AND lmtp_port IS NOT NULL))
);
CREATE INDEX mail_mailboxes_domain ON mail_mailboxes(domain_id);

-- An alias may share its address with a mailbox: keep_local_copy = 1 then delivers to both.
CREATE TABLE mail_aliases (
  id              INTEGER PRIMARY KEY,
  domain_id       INTEGER NOT NULL REFERENCES mail_domains(id) ON DELETE RESTRICT,
  address         TEXT NOT NULL UNIQUE CHECK (address = lower(address) AND instr(address, '@') > 1),
  keep_local_copy INTEGER NOT NULL DEFAULT 0 CHECK (keep_local_copy IN (0, 1)),
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX mail_aliases_domain ON mail_aliases(domain_id);

CREATE TABLE mail_alias_targets (
  alias_id INTEGER NOT NULL REFERENCES mail_aliases(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  -- The domain is lower-case; the local part stays as written (it may be case-sensitive at an
  -- external provider). Targets have exactly one '@' (dot-atom local parts).
  target   TEXT NOT NULL CHECK (instr(target, '@') > 1
                                AND substr(target, instr(target, '@')) = lower(substr(target, instr(target, '@')))),
  PRIMARY KEY (alias_id, position),
  UNIQUE (alias_id, target)
);

-- Append-only: every committed configuration change gets the next version; nodes ask for version > theirs.
-- AUTOINCREMENT so a version is never reused, even after the newest row were ever deleted.
CREATE TABLE mail_config_changes (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  at      TEXT NOT NULL,
  entity  TEXT NOT NULL CHECK (entity IN ('domain', 'mailbox', 'alias')),
  key     TEXT NOT NULL,
  op      TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
  record  TEXT CHECK ((op = 'upsert' AND json_valid(record)) OR (op = 'delete' AND record IS NULL))
);

-- The token itself is shown once (CLI) and never stored: only its SHA-256.
CREATE TABLE mx_nodes (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
  token_hash   TEXT NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  last_seen_at TEXT,
  last_version INTEGER
);
