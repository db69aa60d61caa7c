-- The node's replica of the policy settings (issue 12), mirroring the backend's mail_policies through the 'policy'
-- entity of the config change log. key: '*' (installation), a domain name, or an address; settings: PolicySettings JSON.
CREATE TABLE replica_policies (
  key      TEXT PRIMARY KEY,
  scope    TEXT NOT NULL CHECK (scope IN ('installation', 'domain', 'address')),
  settings TEXT NOT NULL CHECK (json_valid(settings))
) WITHOUT ROWID;

-- Bumped by every applied page that touches a policy (or resets the replica): the Directory caches effective
-- policies and drops its cache when this moves, so RCPT does not parse JSON per call.
ALTER TABLE replica_state ADD COLUMN policy_generation INTEGER NOT NULL DEFAULT 0;
