// What subscribers were last told about each section's state (backend migration 017, notify_section_states).
import type { ServiceState } from '#data/contracts/states.ts';
import type { DB } from '#data/db.ts';
import type { Announced } from '../domain/notify-debounce.ts';

export function announcedState(db: DB, sectionId: number): Announced | undefined {
  return db.prepare('SELECT state, announced_at AS announcedAt FROM notify_section_states WHERE section_id = ?').get(sectionId) as
    | Announced
    | undefined;
}

/** Sets what was announced (announcedAt null: a baseline, or a window opened by staff). */
export function setAnnounced(db: DB, sectionId: number, state: ServiceState, announcedAt: string | null): void {
  db.prepare(
    `INSERT INTO notify_section_states (section_id, state, announced_at) VALUES (?, ?, ?)
     ON CONFLICT (section_id) DO UPDATE SET state = excluded.state, announced_at = excluded.announced_at`,
  ).run(sectionId, state, announcedAt);
}

/** Opens the section's window: its next stored change is announced at once. */
export function openWindow(db: DB, sectionId: number): void {
  db.prepare('UPDATE notify_section_states SET announced_at = NULL WHERE section_id = ?').run(sectionId);
}

export interface WaitingState {
  sectionId: number;
  slug: string;
  name: string;
  announced: Announced;
  /** The section's latest stored state (section_state_changes) and its reason. */
  state: ServiceState;
  reason: string;
}

/** Sections whose latest stored state differs from the one announced. */
export function statesNotAnnounced(db: DB): WaitingState[] {
  const rows = db
    .prepare(
      `SELECT n.section_id, s.slug, s.name, n.state AS announced, n.announced_at, c.state, c.reason
       FROM notify_section_states n JOIN sections s ON s.id = n.section_id
       JOIN section_state_changes c ON c.id = (SELECT max(id) FROM section_state_changes WHERE section_id = n.section_id)
       WHERE c.state <> n.state`,
    )
    .all() as {
    section_id: number;
    slug: string;
    name: string;
    announced: ServiceState;
    announced_at: string | null;
    state: ServiceState;
    reason: string;
  }[];
  return rows.map((r) => ({
    sectionId: r.section_id,
    slug: r.slug,
    name: r.name,
    announced: { state: r.announced, announcedAt: r.announced_at },
    state: r.state,
    reason: r.reason,
  }));
}
