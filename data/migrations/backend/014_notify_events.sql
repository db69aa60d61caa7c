-- Notifications (issue 14), the outbox: one row per thing that happened and is worth telling subscribers, written in
-- the transaction of the staff action or state change that caused it, so that action never waits on sending and a
-- crash cannot keep one without the other. Consumers (the email fan-out, webhooks) read it in id order, each by its own
-- cursor, which they advance in the transaction that records what they did with the rows.
CREATE TABLE notify_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  kind        TEXT NOT NULL CHECK (kind IN ('task-opened', 'comment', 'task-changed', 'phases-changed', 'phase-transition',
                                            'task-closed', 'task-reopened', 'section-state')),
  task_id     INTEGER REFERENCES tasks(id) ON DELETE CASCADE,      -- null for a section-state change
  section_id  INTEGER REFERENCES sections(id) ON DELETE CASCADE,   -- the task's section when it has one
  at          TEXT NOT NULL,
  payload     TEXT NOT NULL CHECK (json_valid(payload))             -- data/contracts/notify.ts NotifyPayload
);
CREATE INDEX notify_events_task ON notify_events(task_id);

CREATE TABLE notify_cursors (
  consumer  TEXT PRIMARY KEY CHECK (consumer IN ('email', 'webhook')),
  event_id  INTEGER NOT NULL DEFAULT 0 CHECK (event_id >= 0)
);
INSERT INTO notify_cursors (consumer, event_id) VALUES ('email', 0), ('webhook', 0);
