// SQL for the mail configuration: domains, mailboxes, aliases, the change log nodes sync from, node tokens.
import type { DB } from '#data/db.ts';
import type { DomainRecord, MailboxRecord, AliasRecord, ConfigChange, ConfigEntity } from '#data/contracts/mx-config.ts';
import type { DomainInput, MailboxInput, AliasInput } from '#data/contracts/mail-config.ts';
import type { PolicyRecord, PolicyScope } from '#data/contracts/mx-config.ts';
import type { PolicySettings } from '#data/contracts/mail-policy.ts';
import { PENDING_SWITCHES_SQL, parsePendingSwitches } from './mail-switches.ts';

interface DomainRow {
  id: number;
  name: string;
  mode: DomainRecord['mode'];
  legacy_host: string | null;
  legacy_port: number | null;
  catch_all: string | null;
  created_at: string;
  updated_at: string;
  switches: string | null;
}
interface MailboxRow {
  id: number;
  address: string;
  domain: string;
  delivery: MailboxRecord['delivery'];
  lmtp_host: string | null;
  lmtp_port: number | null;
  created_at: string;
}
interface AliasRow {
  id: number;
  address: string;
  domain: string;
  keep_local_copy: number;
  created_at: string;
  updated_at: string;
}

export type Domain = DomainRecord & { id: number; createdAt: string; updatedAt: string };
export type Mailbox = MailboxRecord & { id: number; createdAt: string };
export type Alias = AliasRecord & { id: number; createdAt: string; updatedAt: string };

const toDomain = (r: DomainRow, switches = parsePendingSwitches(r.switches)): Domain => ({
  id: r.id,
  name: r.name,
  mode: r.mode,
  legacyHost: r.legacy_host,
  legacyPort: r.legacy_port,
  catchAll: r.catch_all,
  ...(switches.length ? { switches } : {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const toMailbox = (r: MailboxRow): Mailbox => ({
  id: r.id,
  address: r.address,
  domain: r.domain,
  delivery: r.delivery,
  lmtpHost: r.lmtp_host,
  lmtpPort: r.lmtp_port,
  createdAt: r.created_at,
});

/** With the domain's pending switches (when it has any), so every upsert a node gets tells it when to switch. */
export function domainRecord(d: Domain): DomainRecord {
  const r = { name: d.name, mode: d.mode, legacyHost: d.legacyHost, legacyPort: d.legacyPort, catchAll: d.catchAll };
  return d.switches?.length ? { ...r, switches: d.switches } : r;
}
export function mailboxRecord(m: Mailbox): MailboxRecord {
  return { address: m.address, domain: m.domain, delivery: m.delivery, lmtpHost: m.lmtpHost, lmtpPort: m.lmtpPort };
}
export function aliasRecord(a: Alias): AliasRecord {
  return { address: a.address, domain: a.domain, targets: a.targets, keepLocalCopy: a.keepLocalCopy };
}

// ── domains ────────────────────────────────────────────────────────────────

const DOMAIN_SELECT = `SELECT d.*, ${PENDING_SWITCHES_SQL} AS switches FROM mail_domains d`;

export function listDomains(db: DB): Domain[] {
  return (db.prepare(`${DOMAIN_SELECT} ORDER BY d.name`).all() as DomainRow[]).map((r) => toDomain(r));
}

export function findDomain(db: DB, name: string): Domain | undefined {
  const r = db.prepare(`${DOMAIN_SELECT} WHERE d.name = ?`).get(name) as DomainRow | undefined;
  return r && toDomain(r);
}

export function insertDomain(db: DB, d: DomainInput, now: string): Domain {
  db.prepare(`INSERT INTO mail_domains (name, mode, legacy_host, legacy_port, catch_all, created_at, updated_at)
              VALUES (?, ?, ?, ?, ?, ?, ?)`).run(d.name, d.mode, d.legacyHost, d.legacyPort, d.catchAll, now, now);
  return findDomain(db, d.name)!;
}

export function updateDomain(db: DB, d: Domain, now: string): Domain {
  db.prepare('UPDATE mail_domains SET mode = ?, legacy_host = ?, legacy_port = ?, catch_all = ?, updated_at = ? WHERE id = ?').run(
    d.mode,
    d.legacyHost,
    d.legacyPort,
    d.catchAll,
    now,
    d.id,
  );
  return findDomain(db, d.name)!;
}

export function deleteDomain(db: DB, id: number): void {
  db.prepare('DELETE FROM mail_domains WHERE id = ?').run(id);
}

// ── mailboxes ──────────────────────────────────────────────────────────────

const MAILBOX_SELECT = 'SELECT m.*, d.name AS domain FROM mail_mailboxes m JOIN mail_domains d ON d.id = m.domain_id';

export function listMailboxes(db: DB, domain?: string): Mailbox[] {
  const rows =
    domain === undefined
      ? db.prepare(`${MAILBOX_SELECT} ORDER BY m.address`).all()
      : db.prepare(`${MAILBOX_SELECT} WHERE d.name = ? ORDER BY m.address`).all(domain);
  return (rows as MailboxRow[]).map(toMailbox);
}

export function findMailbox(db: DB, address: string): Mailbox | undefined {
  const r = db.prepare(`${MAILBOX_SELECT} WHERE m.address = ?`).get(address) as MailboxRow | undefined;
  return r && toMailbox(r);
}

export function insertMailbox(db: DB, domainId: number, m: MailboxInput, now: string): Mailbox {
  db.prepare('INSERT INTO mail_mailboxes (domain_id, address, delivery, lmtp_host, lmtp_port, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
    domainId,
    m.address,
    m.delivery,
    m.lmtpHost,
    m.lmtpPort,
    now,
  );
  return findMailbox(db, m.address)!;
}

export function deleteMailbox(db: DB, id: number): void {
  db.prepare('DELETE FROM mail_mailboxes WHERE id = ?').run(id);
}

// ── aliases ────────────────────────────────────────────────────────────────

const ALIAS_SELECT = 'SELECT a.*, d.name AS domain FROM mail_aliases a JOIN mail_domains d ON d.id = a.domain_id';

function withTargets(db: DB, r: AliasRow): Alias {
  const targets = (
    db.prepare('SELECT target FROM mail_alias_targets WHERE alias_id = ? ORDER BY position').all(r.id) as { target: string }[]
  ).map((t) => t.target);
  return {
    id: r.id,
    address: r.address,
    domain: r.domain,
    targets,
    keepLocalCopy: r.keep_local_copy === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function listAliases(db: DB, domain?: string): Alias[] {
  const rows =
    domain === undefined
      ? db.prepare(`${ALIAS_SELECT} ORDER BY a.address`).all()
      : db.prepare(`${ALIAS_SELECT} WHERE d.name = ? ORDER BY a.address`).all(domain);
  return (rows as AliasRow[]).map((r) => withTargets(db, r));
}

export function findAlias(db: DB, address: string): Alias | undefined {
  const r = db.prepare(`${ALIAS_SELECT} WHERE a.address = ?`).get(address) as AliasRow | undefined;
  return r && withTargets(db, r);
}

/** Inserts or replaces an alias and its targets (an alias is edited as a whole). */
export function upsertAlias(db: DB, domainId: number, a: AliasInput, now: string): Alias {
  const existing = findAlias(db, a.address);
  let id: number;
  if (existing) {
    db.prepare('UPDATE mail_aliases SET keep_local_copy = ?, updated_at = ? WHERE id = ?').run(a.keepLocalCopy ? 1 : 0, now, existing.id);
    db.prepare('DELETE FROM mail_alias_targets WHERE alias_id = ?').run(existing.id);
    id = existing.id;
  } else {
    id = Number(
      db
        .prepare('INSERT INTO mail_aliases (domain_id, address, keep_local_copy, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
        .run(domainId, a.address, a.keepLocalCopy ? 1 : 0, now, now).lastInsertRowid,
    );
  }
  const add = db.prepare('INSERT INTO mail_alias_targets (alias_id, position, target) VALUES (?, ?, ?)');
  for (const [i, t] of a.targets.entries()) add.run(id, i, t);
  return findAlias(db, a.address)!;
}

export function deleteAlias(db: DB, id: number): void {
  db.prepare('DELETE FROM mail_aliases WHERE id = ?').run(id);
}

// ── policies ───────────────────────────────────────────────────────────────

export type Policy = PolicyRecord & { updatedAt: string };

const toPolicy = (r: { scope: PolicyScope; key: string; settings: string; updated_at: string }): Policy => ({
  scope: r.scope,
  key: r.key,
  settings: JSON.parse(r.settings) as PolicySettings,
  updatedAt: r.updated_at,
});

/** Every level that sets something: the installation first, then domains, then addresses, each by key. */
export function listPolicies(db: DB): Policy[] {
  return (
    db
      .prepare(
        "SELECT scope, key, settings, updated_at FROM mail_policies ORDER BY CASE scope WHEN 'installation' THEN 0 WHEN 'domain' THEN 1 ELSE 2 END, key",
      )
      .all() as { scope: PolicyScope; key: string; settings: string; updated_at: string }[]
  ).map(toPolicy);
}

export function findPolicy(db: DB, key: string): Policy | undefined {
  const r = db.prepare('SELECT scope, key, settings, updated_at FROM mail_policies WHERE key = ?').get(key) as
    | { scope: PolicyScope; key: string; settings: string; updated_at: string }
    | undefined;
  return r && toPolicy(r);
}

export function upsertPolicy(db: DB, p: PolicyRecord, now: string): Policy {
  db.prepare(`INSERT INTO mail_policies (scope, key, settings, updated_at) VALUES (?, ?, ?, ?)
              ON CONFLICT(key) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`).run(
    p.scope,
    p.key,
    JSON.stringify(p.settings),
    now,
  );
  return findPolicy(db, p.key)!;
}

export function deletePolicy(db: DB, key: string): boolean {
  return db.prepare('DELETE FROM mail_policies WHERE key = ?').run(key).changes > 0;
}

export function policyRecord(p: Policy): PolicyRecord {
  return { scope: p.scope, key: p.key, settings: p.settings };
}

// ── change log ─────────────────────────────────────────────────────────────

export function appendChange(
  db: DB,
  change: { entity: ConfigEntity; key: string; op: 'upsert' | 'delete'; record?: object },
  now: string,
): number {
  const r = db
    .prepare('INSERT INTO mail_config_changes (at, entity, key, op, record) VALUES (?, ?, ?, ?, ?)')
    .run(now, change.entity, change.key, change.op, change.op === 'upsert' ? JSON.stringify(change.record) : null);
  return Number(r.lastInsertRowid);
}

export function currentConfigVersion(db: DB): number {
  return (db.prepare('SELECT coalesce(max(version), 0) AS v FROM mail_config_changes').get() as { v: number }).v;
}

export function changesSince(db: DB, since: number, limit: number): ConfigChange[] {
  const rows = db
    .prepare('SELECT version, entity, key, op, record FROM mail_config_changes WHERE version > ? ORDER BY version LIMIT ?')
    .all(since, limit) as { version: number; entity: ConfigEntity; key: string; op: 'upsert' | 'delete'; record: string | null }[];
  return rows.map(
    (r) =>
      (r.op === 'delete'
        ? { version: r.version, op: 'delete', entity: r.entity, key: r.key }
        : { version: r.version, op: 'upsert', entity: r.entity, key: r.key, record: JSON.parse(r.record!) }) as ConfigChange,
  );
}

// ── MX node tokens ─────────────────────────────────────────────────────────

export interface MxNode {
  id: number;
  name: string;
  createdAt: string;
  lastSeenAt: string | null;
  lastVersion: number | null;
}

export function upsertNodeToken(db: DB, name: string, tokenHash: string, now: string): void {
  db.prepare(`INSERT INTO mx_nodes (name, token_hash, created_at) VALUES (?, ?, ?)
              ON CONFLICT(name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`).run(
    name,
    tokenHash,
    now,
  );
}

export function findNodeByTokenHash(db: DB, tokenHash: string): MxNode | undefined {
  const r = db.prepare('SELECT id, name, created_at, last_seen_at, last_version FROM mx_nodes WHERE token_hash = ?').get(tokenHash) as
    | { id: number; name: string; created_at: string; last_seen_at: string | null; last_version: number | null }
    | undefined;
  return r && { id: r.id, name: r.name, createdAt: r.created_at, lastSeenAt: r.last_seen_at, lastVersion: r.last_version };
}

export function markNodeSeen(db: DB, id: number, version: number, now: string): void {
  db.prepare('UPDATE mx_nodes SET last_seen_at = ?, last_version = ? WHERE id = ?').run(now, version, id);
}
