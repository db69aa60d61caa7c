-- Notifications (issue 14): what subscribers were last told about each section's public state, so automatic changes
-- (telemetry, tasks) are announced at most once per section per 15 minutes and a flapping light that settles on a
-- state other than the one announced is still announced once that window has passed. Staff overrides are announced at
-- once. A section without a row has had no state stored yet: its first stored state is the baseline, not a change.
CREATE TABLE notify_section_states (
  section_id    INTEGER PRIMARY KEY REFERENCES sections(id) ON DELETE CASCADE,
  state         TEXT NOT NULL CHECK (state IN ('operational', 'announcement', 'issues', 'unknown')),
  announced_at  TEXT     -- when `state` was announced; null: never (a baseline, or a cleared override): the window is open
);

-- Sections that already have a stored state start from it: only later changes are news.
INSERT INTO notify_section_states (section_id, state, announced_at)
  SELECT c.section_id, c.state, NULL FROM section_state_changes c
  WHERE c.id = (SELECT max(id) FROM section_state_changes WHERE section_id = c.section_id);
