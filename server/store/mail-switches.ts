// SQL of scheduled domain switches (data/migrations/backend/012_domain_switches.sql).
import type { DB } from '#data/db.ts';
import type { ScheduledSwitch } from '#data/contracts/mx-config.ts';
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { CancelReason, DomainSwitch, SwitchState } from '#data/contracts/mail-switches.ts';

interface SwitchRow {
  id: number;
  domain_id: number;
  domain: string;
  mode: MigrationMode;
  effective_at: number;
  task_id: number | null;
  phase_id: number | null;
  phase_title: string | null;
  created_by_name: string;
  created_at: string;
  state: SwitchState;
  applied_at: string | null;
  cancelled_at: string | null;
  cancel_reason: CancelReason | null;
}

export type SwitchRecord = DomainSwitch & { domainId: number; atMs: number; phaseId: number | null };

const SELECT = 'SELECT s.*, d.name AS domain FROM mail_domain_switches s JOIN mail_domains d ON d.id = s.domain_id';

const toSwitch = (r: SwitchRow): SwitchRecord => ({
  id: r.id,
  domainId: r.domain_id,
  domain: r.domain,
  mode: r.mode,
  at: new Date(r.effective_at).toISOString(),
  atMs: r.effective_at,
  task: r.task_id === null || r.phase_title === null ? null : { id: r.task_id, phase: r.phase_title },
  phaseId: r.phase_id,
  state: r.state,
  createdBy: r.created_by_name,
  createdAt: r.created_at,
  appliedAt: r.applied_at,
  cancelledAt: r.cancelled_at,
  cancelReason: r.cancel_reason,
});

/**
 * The pending switches of the domain row `d` as one JSON array (ScheduledSwitch[]), for a SELECT over mail_domains d:
 * every domain record sent to the nodes carries them (server/store/mail.ts, domainRecord).
 */
export const PENDING_SWITCHES_SQL = `(SELECT json_group_array(json_object('mode', p.mode, 'at', p.effective_at)) FROM
  (SELECT mode, effective_at FROM mail_domain_switches WHERE domain_id = d.id AND state = 'pending' ORDER BY effective_at, id) p)`;

export function parsePendingSwitches(json: string | null): ScheduledSwitch[] {
  return json ? (JSON.parse(json) as ScheduledSwitch[]) : [];
}

/** Every switch of a domain: pending first by effective time, then the rest, newest first. */
export function listSwitches(db: DB, domain: string): SwitchRecord[] {
  const rows = db
    .prepare(
      `${SELECT} WHERE d.name = ? ORDER BY s.state <> 'pending', CASE WHEN s.state = 'pending' THEN s.effective_at ELSE -s.effective_at END, s.id`,
    )
    .all(domain) as SwitchRow[];
  return rows.map(toSwitch);
}

export function findSwitch(db: DB, id: number): SwitchRecord | undefined {
  const r = db.prepare(`${SELECT} WHERE s.id = ?`).get(id) as SwitchRow | undefined;
  return r && toSwitch(r);
}

export interface NewSwitch {
  domainId: number;
  mode: MigrationMode;
  atMs: number;
  phase: { taskId: number; phaseId: number; title: string } | null;
  createdBy: number | null;
  createdByName: string;
}

export function insertSwitch(db: DB, s: NewSwitch, now: string): number {
  const r = db
    .prepare(`INSERT INTO mail_domain_switches (domain_id, mode, effective_at, task_id, phase_id, phase_title, created_by, created_by_name, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(
      s.domainId,
      s.mode,
      s.atMs,
      s.phase?.taskId ?? null,
      s.phase?.phaseId ?? null,
      s.phase?.title ?? null,
      s.createdBy,
      s.createdByName,
      now,
    );
  return Number(r.lastInsertRowid);
}

/** Claims a pending switch as applied; false when another run (or a cancel) got there first. */
export function markApplied(db: DB, id: number, now: string): boolean {
  return (
    db.prepare("UPDATE mail_domain_switches SET state = 'applied', applied_at = ? WHERE id = ? AND state = 'pending'").run(now, id)
      .changes === 1
  );
}

export function markCancelled(db: DB, id: number, now: string, reason: CancelReason): boolean {
  return (
    db
      .prepare(
        "UPDATE mail_domain_switches SET state = 'cancelled', cancelled_at = ?, cancel_reason = ? WHERE id = ? AND state = 'pending'",
      )
      .run(now, reason, id).changes === 1
  );
}

export function moveSwitch(db: DB, id: number, atMs: number, phaseId: number): void {
  db.prepare("UPDATE mail_domain_switches SET effective_at = ?, phase_id = ? WHERE id = ? AND state = 'pending'").run(atMs, phaseId, id);
}

/** Pending switches of one domain, or those due at `nowMs` over all domains; oldest first. */
export function pendingSwitches(db: DB, by: { domainId: number } | { dueAt: number } | { taskId: number }): SwitchRecord[] {
  const [where, arg] =
    'domainId' in by ? ['s.domain_id = ?', by.domainId] : 'dueAt' in by ? ['s.effective_at <= ?', by.dueAt] : ['s.task_id = ?', by.taskId];
  const rows = db.prepare(`${SELECT} WHERE s.state = 'pending' AND ${where} ORDER BY s.effective_at, s.id`).all(arg) as SwitchRow[];
  return rows.map(toSwitch);
}

/** A task's phases as they are now (rows of the last plan save). */
export function taskPhases(db: DB, taskId: number): { id: number; title: string; startsAt: string | null }[] {
  return db.prepare('SELECT id, title, starts_at AS startsAt FROM phases WHERE task_id = ? ORDER BY position, id').all(taskId) as {
    id: number;
    title: string;
    startsAt: string | null;
  }[];
}

/** Open tasks' phases with a start, for the staff page's phase picker. */
export function phaseChoices(db: DB): { taskId: number; summary: string; phaseId: number; title: string; startsAt: string }[] {
  return db
    .prepare(`SELECT t.id AS taskId, t.summary, p.id AS phaseId, p.title, p.starts_at AS startsAt FROM phases p
    JOIN tasks t ON t.id = p.task_id WHERE t.is_closed = 0 AND p.starts_at IS NOT NULL ORDER BY t.id, p.position, p.id`)
    .all() as { taskId: number; summary: string; phaseId: number; title: string; startsAt: string }[];
}

/** As the API answers it (data/contracts/mail-switches.ts). */
export function publicSwitch({ domainId: _d, atMs: _a, phaseId: _p, ...s }: SwitchRecord): DomainSwitch {
  return s;
}
