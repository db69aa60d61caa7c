// Applies a page of backend configuration changes to the replica in one transaction: all of it or none.
import type { DB } from '#data/db.ts';
import { type MxConfigPayload, type ConfigChange, policyScopeOf } from '#data/contracts/mx-config.ts';

export interface ApplyResult {
  applied: number;
  version: number;
  /** Domains whose own record, mailboxes or aliases this page changed (lower-case names); policies are not counted. */
  domains: string[];
  /** The page replaced the whole replica. */
  reset: boolean;
}

export function applyConfigChanges(db: DB, payload: MxConfigPayload, now: Date): ApplyResult {
  const upsertDomain =
    db.prepare(`INSERT INTO replica_domains (name, mode, legacy_host, legacy_port, catch_all, switches) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT(name) DO UPDATE SET mode = excluded.mode, legacy_host = excluded.legacy_host, legacy_port = excluded.legacy_port,
      catch_all = excluded.catch_all, switches = excluded.switches`);
  const upsertMailbox = db.prepare(`INSERT INTO replica_mailboxes (address, domain, delivery, lmtp_host, lmtp_port) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(address) DO UPDATE SET domain = excluded.domain, delivery = excluded.delivery, lmtp_host = excluded.lmtp_host, lmtp_port = excluded.lmtp_port`);
  const upsertAlias = db.prepare(`INSERT INTO replica_aliases (address, domain, targets, keep_local_copy) VALUES (?, ?, ?, ?)
    ON CONFLICT(address) DO UPDATE SET domain = excluded.domain, targets = excluded.targets, keep_local_copy = excluded.keep_local_copy`);
  const upsertPolicy = db.prepare(`INSERT INTO replica_policies (key, scope, settings) VALUES (?, ?, ?)
    ON CONFLICT(key) DO UPDATE SET scope = excluded.scope, settings = excluded.settings`);
  const del = {
    domain: db.prepare('DELETE FROM replica_domains WHERE name = ?'),
    mailbox: db.prepare('DELETE FROM replica_mailboxes WHERE address = ?'),
    alias: db.prepare('DELETE FROM replica_aliases WHERE address = ?'),
    policy: db.prepare('DELETE FROM replica_policies WHERE key = ?'),
  };
  let policiesChanged = false;
  const domains = new Set<string>();

  function applyOne(c: ConfigChange): void {
    if (c.entity === 'policy') policiesChanged = true;
    else domains.add(c.entity === 'domain' ? c.key : c.key.slice(c.key.lastIndexOf('@') + 1));
    if (c.op === 'delete') {
      del[c.entity].run(c.key);
      return;
    }
    switch (c.entity) {
      case 'domain': {
        const r = c.record;
        upsertDomain.run(r.name, r.mode, r.legacyHost, r.legacyPort, r.catchAll, JSON.stringify(r.switches ?? []));
        break;
      }
      case 'mailbox': {
        const r = c.record;
        upsertMailbox.run(r.address, r.domain, r.delivery, r.lmtpHost, r.lmtpPort);
        break;
      }
      case 'alias': {
        const r = c.record;
        upsertAlias.run(r.address, r.domain, JSON.stringify(r.targets), r.keepLocalCopy ? 1 : 0);
        break;
      }
      case 'policy': {
        const r = c.record;
        upsertPolicy.run(r.key, policyScopeOf(r.key), JSON.stringify(r.settings));
        break;
      }
    }
  }

  return db
    .transaction((): ApplyResult => {
      if (payload.reset) {
        db.exec(
          'DELETE FROM replica_policies; DELETE FROM replica_aliases; DELETE FROM replica_mailboxes; DELETE FROM replica_domains; UPDATE replica_state SET version = 0 WHERE id = 1',
        );
        policiesChanged = true;
      }
      const current = (db.prepare('SELECT version FROM replica_state WHERE id = 1').get() as { version: number }).version;
      let applied = 0;
      let version = current;
      for (const c of payload.changes) {
        if (c.version <= version) continue; // a repeated page (a retry after a lost reply) is harmless
        applyOne(c);
        version = c.version;
        applied++;
      }
      db.prepare(
        'UPDATE replica_state SET version = ?, synced_at = ?, last_error = NULL, last_error_at = NULL, policy_generation = policy_generation + ? WHERE id = 1',
      ).run(version, now.toISOString(), policiesChanged ? 1 : 0);
      return { applied, version, domains: [...domains], reset: payload.reset === true };
    })
    .immediate();
}

export function recordSyncError(db: DB, message: string, now: Date): void {
  db.prepare('UPDATE replica_state SET last_error = ?, last_error_at = ? WHERE id = 1').run(message.slice(0, 500), now.toISOString());
}
