-- Redacted history entries: an admin can wipe what an entry recorded (a secret pasted in and edited out) for good.

-- The entry itself stays, with who redacted it and when; its old and new values are overwritten with NULL, and the
-- CHECK keeps a redacted row from ever holding a value again.
ALTER TABLE task_history ADD COLUMN redacted_by INTEGER REFERENCES users(id);
ALTER TABLE task_history ADD COLUMN redacted_at TEXT
  CHECK (redacted_at IS NULL OR (redacted_by IS NOT NULL AND old_value IS NULL AND new_value IS NULL));
