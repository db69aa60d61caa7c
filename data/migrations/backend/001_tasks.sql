-- Task tracker core: the Flyspray-style model of FS#2733, staff users, sessions, history, audit.
-- Timestamps are UTC instants as ISO-8601 text ending in 'Z' (sortable, readable).

CREATE TABLE sections (
  id          INTEGER PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE CHECK (slug GLOB '[a-z0-9]*' AND length(slug) <= 60),
  name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  description TEXT NOT NULL DEFAULT '',
  position    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE task_types (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE statuses (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE close_reasons (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE categories (
  id        INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES categories(id) ON DELETE RESTRICT,
  name      TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  position  INTEGER NOT NULL DEFAULT 0,
  UNIQUE (parent_id, name)
);

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(username) BETWEEN 1 AND 64),
  display_name  TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  role          TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
  password_hash TEXT,            -- NULL: cannot log in (e.g. the historical author of seeded tasks)
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
  id_hash    TEXT PRIMARY KEY,   -- sha256 of the cookie value; the cookie itself is never stored
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
  id    INTEGER PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('account', 'ip')),
  key   TEXT NOT NULL,
  at    TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(scope, key, at);

CREATE TABLE tasks (
  id              INTEGER PRIMARY KEY,
  summary         TEXT NOT NULL CHECK (length(summary) BETWEEN 1 AND 200),
  details_md      TEXT NOT NULL DEFAULT '',
  details_html    TEXT NOT NULL DEFAULT '',
  type_id         INTEGER NOT NULL REFERENCES task_types(id),
  category_id     INTEGER NOT NULL REFERENCES categories(id),
  section_id      INTEGER REFERENCES sections(id),
  status_id       INTEGER NOT NULL REFERENCES statuses(id),
  percent         INTEGER NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
  is_closed       INTEGER NOT NULL DEFAULT 0 CHECK (is_closed IN (0, 1)),
  close_reason_id INTEGER REFERENCES close_reasons(id),
  closed_by       INTEGER REFERENCES users(id),
  closed_at       TEXT,
  opened_by       INTEGER NOT NULL REFERENCES users(id),
  opened_at       TEXT NOT NULL,
  last_edited_at  TEXT NOT NULL,
  version         INTEGER NOT NULL DEFAULT 1,
  CHECK ((is_closed = 0 AND close_reason_id IS NULL AND closed_at IS NULL AND closed_by IS NULL)
      OR (is_closed = 1 AND close_reason_id IS NOT NULL AND closed_at IS NOT NULL AND closed_by IS NOT NULL))
);
CREATE INDEX tasks_section ON tasks(section_id);
CREATE INDEX tasks_edited ON tasks(last_edited_at);

CREATE TABLE comments (
  id         INTEGER PRIMARY KEY,
  task_id    INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  author_id  INTEGER NOT NULL REFERENCES users(id),
  created_at TEXT NOT NULL,
  body_md    TEXT NOT NULL CHECK (length(body_md) BETWEEN 1 AND 100000),
  body_html  TEXT NOT NULL
);
CREATE INDEX comments_task ON comments(task_id, created_at);

CREATE TABLE phases (
  id        INTEGER PRIMARY KEY,
  task_id   INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  title     TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  starts_at TEXT,
  ends_at   TEXT,
  note      TEXT NOT NULL DEFAULT '',
  CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at <= ends_at)
);
CREATE INDEX phases_task ON phases(task_id, position);

CREATE TABLE task_history (
  id        INTEGER PRIMARY KEY,
  task_id   INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  user_id   INTEGER REFERENCES users(id),
  at        TEXT NOT NULL,
  field     TEXT NOT NULL,
  old_value TEXT,
  new_value TEXT
);
CREATE INDEX task_history_task ON task_history(task_id, id);

CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY,
  at      TEXT NOT NULL,
  user_id INTEGER REFERENCES users(id),
  actor   TEXT NOT NULL,            -- username, 'cli', 'system' or the attempted login name
  action  TEXT NOT NULL,
  target  TEXT,
  detail  TEXT
);

-- Which seeds have run once; a seed never runs twice, so it never overwrites edits.
CREATE TABLE seeds (
  name       TEXT PRIMARY KEY,
  applied_at TEXT NOT NULL
);
