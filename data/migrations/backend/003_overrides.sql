-- Staff overrides of a section's state, and the marks that make each automatic plan comment happen once.

-- One override per section at most; setting again replaces it. Expired rows are ignored at read time
-- (evaluated against the clock), so an override ends on its own even if nobody runs a clean-up.
CREATE TABLE section_overrides (
  section_id INTEGER PRIMARY KEY REFERENCES sections(id) ON DELETE CASCADE,
  state      TEXT NOT NULL CHECK (state IN ('operational', 'announcement', 'issues', 'unknown')),
  note       TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
  set_by     INTEGER REFERENCES users(id),
  set_at     TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  CHECK (set_at < expires_at)
);

-- A deployment-plan transition (a phase starting or ending) that the scheduler has handled.
-- Phases are replaced wholesale when staff edit a plan, so their ids are not stable: a transition is
-- identified by task, phase title and kind. The UNIQUE key is what keeps the automatic comment to at
-- most one, whatever re-runs, restarts, concurrent processes or clock jumps happen.
CREATE TABLE transition_marks (
  id          INTEGER PRIMARY KEY,
  task_id     INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  phase_id    INTEGER,              -- the phase row when it was handled (informational)
  phase_title TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('started', 'ended')),
  at          TEXT NOT NULL,        -- the boundary instant of the phase
  handled_at  TEXT NOT NULL,        -- the clock reading of the run that handled it
  comment_id  INTEGER REFERENCES comments(id) ON DELETE SET NULL, -- NULL: too old when first seen, no comment
  UNIQUE (task_id, phase_title, kind)
);
CREATE INDEX transition_marks_at ON transition_marks(task_id, kind, at);
