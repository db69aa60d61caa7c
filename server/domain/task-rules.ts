// Pure task rules: which fields changed (one history row each), closing completes the task, edit times only move forward.

export interface FieldChange {
  field: string;
  oldValue: string | null;
  newValue: string | null;
}

/** Compares display values field by field; a field absent from `after` is unchanged. */
export function diffFields(before: Record<string, string | null>, after: Record<string, string | null>): FieldChange[] {
  const out: FieldChange[] = [];
  for (const field of Object.keys(after)) {
    if (!(field in before)) continue;
    if (before[field] !== after[field]) out.push({ field, oldValue: before[field], newValue: after[field] });
  }
  return out;
}

/** Flyspray sets 100 % on close: a closed task is done, whatever its reason. */
export const PERCENT_WHEN_CLOSED = 100;

/** Last-edited never moves backwards when an edit is back-dated (rebuilding an old task). */
export function laterInstant(a: string, b: string): string {
  return a >= b ? a : b;
}

/** Back-dating is allowed, dating into the future is not (a little clock skew aside). */
export function isInFuture(at: string, now: Date, skewMs = 60_000): boolean {
  return Date.parse(at) > now.getTime() + skewMs;
}

/** How a phase list reads in history: one line per phase, so a diff of two versions is legible. */
export function describePhases(phases: { title: string; startsAt: string | null; endsAt: string | null; note: string }[]): string {
  return phases.map((p) => `${p.title}: ${p.startsAt ?? '…'} – ${p.endsAt ?? '…'}${p.note ? ` (${p.note})` : ''}`).join('\n');
}
