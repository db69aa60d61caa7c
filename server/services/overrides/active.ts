// Pure: which stored overrides are in force at an instant, and the shape the section-state rules take.
import type { ServiceState } from '#data/contracts/states.ts';
import type { OverrideRow } from '../../store/overrides.ts';

/** What the section-state rules take (structurally the same as their StateOverride). */
export interface StateOverride {
  state: ServiceState;
  reason: string;
  setAt: string;
  expiresAt: string | null;
}

/** In force while now is before the expiry; an expired row is simply ignored, no clean-up needed. */
export function isActive(row: Pick<OverrideRow, 'expiresAt'>, now: Date): boolean {
  return now.getTime() < Date.parse(row.expiresAt);
}

/** The override in force among one section's rows (the newest if several), or null. */
export function activeOverride<R extends Pick<OverrideRow, 'expiresAt' | 'setAt'>>(rows: readonly R[], now: Date): R | null {
  let best: R | null = null;
  for (const r of rows) if (isActive(r, now) && (best === null || r.setAt > best.setAt)) best = r;
  return best;
}

/** The public reason reads as the staff note, or the plain fact when they left none. */
export function toStateOverride(row: OverrideRow): StateOverride {
  return { state: row.state, reason: row.note.trim() || 'set by staff', setAt: row.setAt, expiresAt: row.expiresAt };
}

/**
 * For the status snapshot's `signals.override`: the snapshot calls it only when it rebuilds, and it
 * rebuilds at the expiry (nextBoundary), so the public page drops an override on time by itself.
 */
export function overrideSignal(readRows: () => readonly OverrideRow[]): (slug: string, now: Date) => StateOverride | null {
  return (slug, now) => {
    const row = activeOverride(
      readRows().filter((r) => r.slug === slug),
      now,
    );
    return row ? toStateOverride(row) : null;
  };
}
