-- Values the backend runs with that other processes of the installation (the CLI, jobs) and later starts must know, by
-- key. 'legacy-default': the installation-wide old MX ({"host","port"} or null) the backend last started with
-- (TIDINGS_LEGACY_HOST/_PORT, server/services/mail/legacyDefault.ts); a change is also audited.
CREATE TABLE installation_settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL CHECK (json_valid(value))
) WITHOUT ROWID;
-- Carry a value recorded before this table existed.
INSERT INTO installation_settings (key, value)
  SELECT 'legacy-default', coalesce(json_extract(detail, '$.to'), 'null')
  FROM audit_log WHERE action = 'mail.legacy-default' ORDER BY id DESC LIMIT 1;
