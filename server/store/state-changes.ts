// The stored history of each section's public state: one row per change (migration 008).
import type { ServiceState } from '#data/contracts/states.ts';
import type { SectionStateChange, StateSource } from '#data/contracts/status.ts';
import type { DB } from '#data/db.ts';

export type { StateSource };

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
 * `onRecorded` runs after the row is added, in the same transaction (the notification outbox).
 */
export function recordStateIfChanged(db: DB, change: StateChange, onRecorded?: (sectionId: number) => void): boolean {
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
      onRecorded?.(section.id);
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

/** The id of the newest stored change of any section (0 when none): a new row changes it. */
export function latestStateChangeId(db: DB): number {
  return (db.prepare('SELECT coalesce(max(id), 0) AS id FROM section_state_changes').get() as { id: number }).id;
}

/** What a section's page needs of its stored changes (see sectionHistories). */
export interface StoredSectionHistory {
  /** The changes at or after `since` and the last one before it (the state in effect then), oldest first. */
  window: { at: string; state: ServiceState }[];
  /** The section's latest changes, newest first, its first stored state (from: null) included. */
  recent: SectionStateChange[];
  /** When the section's first state was stored. */
  firstAt: string;
}

/**
 * Every section's stored changes that the daily bars from `since` on and the list of its `recent` latest changes
 * need, by section id; a section with none stored is absent. Each section's rows are read newest first along the
 * (section_id, id) index and reading stops once both are complete: at the first row stored before `since` (the
 * state in effect when the window begins; rows are taken in the order they were stored, as the bars apply them),
 * so a long history costs only its last 90 days.
 */
export function sectionHistories(db: DB, since: string, recent: number): Map<number, StoredSectionHistory> {
  const first = db.prepare('SELECT at FROM section_state_changes WHERE section_id = ? ORDER BY id LIMIT 1');
  const newestFirst = db.prepare('SELECT at, state, reason, source FROM section_state_changes WHERE section_id = ? ORDER BY id DESC');
  const out = new Map<number, StoredSectionHistory>();
  for (const { id } of db.prepare('SELECT id FROM sections').all() as { id: number }[]) {
    const oldest = first.get(id) as { at: string } | undefined;
    if (!oldest) continue;
    const h: StoredSectionHistory = { window: [], recent: [], firstAt: oldest.at };
    let windowDone = false;
    // The newest listed change waiting for the state before it (the next row read).
    let waiting: SectionStateChange | null = null;
    for (const row of newestFirst.iterate(id) as Iterable<{ at: string; state: ServiceState; reason: string; source: StateSource }>) {
      if (waiting) {
        waiting.from = row.state;
        waiting = null;
      }
      if (h.recent.length < recent) {
        waiting = { at: row.at, from: null, to: row.state, reason: row.reason, source: row.source };
        h.recent.push(waiting);
      }
      if (!windowDone) {
        h.window.push({ at: row.at, state: row.state });
        windowDone = row.at < since;
      }
      if (windowDone && !waiting && h.recent.length >= recent) break;
    }
    h.window.reverse();
    out.set(id, h);
  }
  return out;
}
