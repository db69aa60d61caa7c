-- Spam, virus and DMARC policies (issue 12), set at three levels and inherited installation → domain → address.
-- key: '*' for the installation, a hosted domain's name, or a hosted mailbox's or alias's address (canonical lower case).
-- settings: a JSON object of data/contracts/mail-policy.ts PolicySettings; what it leaves out is inherited. A level
-- with nothing set has no row. Removing a domain, mailbox or alias removes its row (and logs that) in the same transaction.
CREATE TABLE mail_policies (
  scope      TEXT NOT NULL CHECK (scope IN ('installation', 'domain', 'address')),
  key        TEXT PRIMARY KEY CHECK (key = lower(key)),
  settings   TEXT NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
  updated_at TEXT NOT NULL,
  CHECK ((scope = 'installation') = (key = '*')),
  CHECK ((scope = 'address') = (instr(key, '@') > 1))
) WITHOUT ROWID;

-- The change log learns the 'policy' entity. SQLite cannot change a CHECK in place: rebuild the table, keeping every
-- version and the AUTOINCREMENT counter (a version is never reused, even one whose row is gone).
CREATE TABLE mail_config_changes_new (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  at      TEXT NOT NULL,
  entity  TEXT NOT NULL CHECK (entity IN ('domain', 'mailbox', 'alias', 'policy')),
  key     TEXT NOT NULL,
  op      TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
  record  TEXT CHECK ((op = 'upsert' AND json_valid(record)) OR (op = 'delete' AND record IS NULL))
);
INSERT INTO mail_config_changes_new (version, at, entity, key, op, record)
  SELECT version, at, entity, key, op, record FROM mail_config_changes ORDER BY version;
DELETE FROM sqlite_sequence WHERE name = 'mail_config_changes_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'mail_config_changes_new', seq FROM sqlite_sequence WHERE name = 'mail_config_changes';
DROP TABLE mail_config_changes;
ALTER TABLE mail_config_changes_new RENAME TO mail_config_changes;
