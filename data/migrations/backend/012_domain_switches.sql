-- Scheduled switches of a hosted domain's migration mode (issue 13, "Switching"). A pending switch travels to the MX
-- nodes inside the domain's record (data/contracts/mx-config.ts, DomainRecord.switches), so a node makes it at its
-- effective time from its replica; the backend's switch job later makes it the domain's recorded mode ('applied').
-- A switch may follow a phase of a task's deployment plan: its effective time is then the phase's start, moved with it
-- when staff save the plan. Plans are saved whole (new phase rows each time), so the phase is named by its title within
-- the task, as the transitions job names it (transition_marks); phase_id is the row at the last save (informational).
CREATE TABLE mail_domain_switches (
  id            INTEGER PRIMARY KEY,
  domain_id     INTEGER NOT NULL REFERENCES mail_domains(id) ON DELETE CASCADE,
  mode          TEXT NOT NULL CHECK (mode IN ('legacy', 'shadow', 'active')),
  -- milliseconds since the epoch, as ScheduledSwitch.at
  effective_at  INTEGER NOT NULL CHECK (effective_at >= 0),
  task_id       INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
  phase_id      INTEGER,
  phase_title   TEXT CHECK (phase_title IS NULL OR length(phase_title) BETWEEN 1 AND 200),
  -- kept when the user is removed (the audit log names them too)
  created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_by_name TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'cancelled')),
  applied_at    TEXT,
  cancelled_at  TEXT,
  -- why it was cancelled: 'staff', 'switch-now', 'phase-removed', 'no-legacy-host'
  cancel_reason TEXT,
  CHECK ((state = 'applied') = (applied_at IS NOT NULL)),
  CHECK ((state = 'cancelled') = (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL)),
  CHECK ((task_id IS NULL) OR (phase_title IS NOT NULL))
);
-- The job's question: pending switches that are due, oldest first.
CREATE INDEX mail_domain_switches_due ON mail_domain_switches(effective_at, id) WHERE state = 'pending';
-- A domain's switches (its record, its page) and a task's pending ones (its plan was saved).
CREATE INDEX mail_domain_switches_domain ON mail_domain_switches(domain_id, effective_at, id);
CREATE INDEX mail_domain_switches_task ON mail_domain_switches(task_id) WHERE state = 'pending';
