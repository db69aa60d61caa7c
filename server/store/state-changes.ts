// The stored history of each section's public state: one row per change (migration 008).
import type { ServiceState } from '#data/contracts/states.ts';
import type { DB } from '#data/db.ts';

export type StateSource = 'tasks' | 'telemetry' | 'override';

export interface StateChange {
  slug: string;
  at: string;
  state: ServiceState;
  reason: string;
  source: StateSource;
}

/**
 * Appends a row for the section `slug` unless its last stored state is already `state` (so calling it with every
 * evaluation stores changes only, restarts included). Returns whether a row was added; an unknown slug adds none.
 */
export function recordStateIfChanged(db: DB, change: StateChange): boolean {
  return db
    .transaction(() => {
      const section = db.prepare('SELECT id FROM sections WHERE slug = ?').get(change.slug) as { id: number } | undefined;
      if (!section) return false;
      const last = db.prepare('SELECT state FROM section_state_changes WHERE section_id = ? ORDER BY id DESC LIMIT 1').get(section.id) as
        | { state: string }
        | undefined;
      if (last?.state === change.state) return false;
      db.prepare('INSERT INTO section_state_changes (section_id, at, state, reason, source) VALUES (?, ?, ?, ?, ?)').run(
        section.id,
        change.at,
        change.state,
        change.reason,
        change.source,
      );
      return true;
    })
    .immediate();
}

/** A section's stored changes, oldest first. */
export function stateChanges(db: DB, slug: string): StateChange[] {
  return db
    .prepare(`SELECT s.slug, c.at, c.state, c.reason, c.source FROM section_state_changes c JOIN sections s ON s.id = c.section_id
              WHERE s.slug = ? ORDER BY c.id`)
    .all(slug) as StateChange[];
}

/**
 * The latest `perSection` changes of every section, newest first, each with its row id; a section's first stored row
 * (its state when recording began, not a change) is left out.
 */
export function recentStateChanges(db: DB, perSection: number): (StateChange & { id: number })[] {
  return db
    .prepare(`SELECT id, slug, at, state, reason, source FROM (
                SELECT c.id, s.slug, c.at, c.state, c.reason, c.source,
                       row_number() OVER (PARTITION BY c.section_id ORDER BY c.id) AS n,
                       row_number() OVER (PARTITION BY c.section_id ORDER BY c.id DESC) AS r
                FROM section_state_changes c JOIN sections s ON s.id = c.section_id)
              WHERE n > 1 AND r <= ? ORDER BY id DESC`)
    .all(perSection) as (StateChange & { id: number })[];
}
