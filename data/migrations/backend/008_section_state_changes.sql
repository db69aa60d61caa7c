-- Every change of a section's public state, with its reason and where it came from (issue 10): the snapshot build
-- appends a row when the state it evaluates differs from the section's last stored one, so rows are changes only and
-- a restart (which evaluates the same state again) adds none.
CREATE TABLE section_state_changes (
  id         INTEGER PRIMARY KEY,
  section_id INTEGER NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
  at         TEXT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('operational', 'announcement', 'issues', 'unknown')),
  reason     TEXT NOT NULL,
  source     TEXT NOT NULL CHECK (source IN ('tasks', 'telemetry', 'override'))
);
CREATE INDEX section_state_changes_section ON section_state_changes(section_id, id);
