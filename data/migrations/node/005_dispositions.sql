-- Per-delivery dispositions (issue 12): one stored body, several fates. A copy delivered under a 'tag' policy gets
-- its own added headers and subject prefix, applied when it is delivered, so recipients with different policies
-- share the bytes. A quarantined copy keeps the message's body (it may be released) and records why.

-- JSON {"headers": [[name, value], ...], "subjectPrefix": string | null}; NULL: deliver the stored bytes as they are.
ALTER TABLE deliveries ADD COLUMN added_headers TEXT;

-- One row per quarantined delivery: the reason and the scanners' verdict (score, symbols, virus name) as JSON.
CREATE TABLE quarantine (
  delivery_id    INTEGER PRIMARY KEY REFERENCES deliveries(id) ON DELETE CASCADE,
  reason         TEXT NOT NULL CHECK (reason IN ('spam', 'virus')),
  verdict        TEXT NOT NULL,
  quarantined_at INTEGER NOT NULL
);
CREATE INDEX quarantine_at ON quarantine (quarantined_at);
