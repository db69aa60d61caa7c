-- Login throttling counts attempts while their password is still being checked; generated passwords are one-time.

-- A row is written before the slow password hash (pending = 1) and settles to a failure (0) or is deleted on success,
-- so guesses sent all at once are counted as they arrive. A pending row left by a crash counts as a failure until
-- its window passes: a restart never forgets an attempt.
ALTER TABLE login_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1));

-- Set while the user's password is one the system generated (CLI or admin, printed once): it logs in once, and only
-- before one_time_expires_at; its session may do nothing but set a new password. Both are NULL for a chosen password.
ALTER TABLE users ADD COLUMN one_time_expires_at TEXT;
ALTER TABLE users ADD COLUMN one_time_spent_at TEXT CHECK (one_time_spent_at IS NULL OR one_time_expires_at IS NOT NULL);
