// section_overrides: a staff-set state per section with a note and an expiry (expiry is judged by readers).
import type { DB } from '#data/db.ts';
import type { ServiceState } from '#data/contracts/states.ts';

export interface OverrideRow {
  sectionId: number;
  slug: string;
  sectionName: string;
  state: ServiceState;
  note: string;
  setBy: string | null;
  setAt: string;
  expiresAt: string;
}

const SELECT = `SELECT o.section_id AS sectionId, s.slug, s.name AS sectionName, o.state, o.note,
  u.display_name AS setBy, o.set_at AS setAt, o.expires_at AS expiresAt
  FROM section_overrides o JOIN sections s ON s.id = o.section_id LEFT JOIN users u ON u.id = o.set_by`;

/** Every stored override, expired ones included: callers decide with activeOverride against their clock. */
export function allOverrides(db: DB): OverrideRow[] {
  return db.prepare(`${SELECT} ORDER BY s.position, s.id`).all() as OverrideRow[];
}

export function overrideOfSection(db: DB, sectionId: number): OverrideRow | undefined {
  return db.prepare(`${SELECT} WHERE o.section_id = ?`).get(sectionId) as OverrideRow | undefined;
}

export function sectionBySlug(db: DB, slug: string): { id: number; slug: string; name: string } | undefined {
  return db.prepare('SELECT id, slug, name FROM sections WHERE slug = ?').get(slug) as
    | { id: number; slug: string; name: string }
    | undefined;
}

export interface OverrideWrite {
  sectionId: number;
  state: ServiceState;
  note: string;
  setBy: number | null;
  setAt: string;
  expiresAt: string;
}

/** Setting again replaces: one decision per section is in force at a time. */
export function upsertOverride(db: DB, o: OverrideWrite): void {
  db.prepare(`INSERT INTO section_overrides (section_id, state, note, set_by, set_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (section_id) DO UPDATE SET state = excluded.state, note = excluded.note, set_by = excluded.set_by,
      set_at = excluded.set_at, expires_at = excluded.expires_at`).run(o.sectionId, o.state, o.note, o.setBy, o.setAt, o.expiresAt);
}

export function deleteOverride(db: DB, sectionId: number): boolean {
  return db.prepare('DELETE FROM section_overrides WHERE section_id = ?').run(sectionId).changes === 1;
}
