-- Scheduled mode switches of a domain (issue 13): the backend sends a domain's pending switches with its record
-- (data/contracts/mx-config.ts ScheduledSwitch), and the node applies each at its effective time from the replica, so
-- a backend that is down at that moment does not delay it. JSON array of {mode, at} (at: ms since the epoch).
ALTER TABLE replica_domains ADD COLUMN switches TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(switches));
