// A section's daily states read from its stored state changes (issue 10): what the 90-day bars show.
import type { ServiceState } from '#data/contracts/states.ts';
import { WORST_FIRST, type DayState } from '#data/contracts/status.ts';

const DAY = 86_400_000;

export interface StoredState {
  at: string;
  state: ServiceState;
}

/** Start (ms) of the first UTC day of the `days` days that end with now's day. */
export function historyStart(now: Date, days: number): number {
  return Math.floor(now.getTime() / DAY) * DAY - (days - 1) * DAY;
}

/**
 * One entry per UTC day for the `days` days ending with now's day, oldest first. A day's states are the one in effect
 * when it began (the latest change before it) and each change during it up to now, shown by the worst (WORST_FIRST).
 * A day that ends before the first change has no data (state null). `changes` in the order they were stored; those
 * before the first day matter only through the last of them, and those after now are not yet.
 */
export function storedDailyHistory(changes: readonly StoredState[], now: Date, days: number): DayState[] {
  const first = historyStart(now, days);
  const nowMs = now.getTime();
  let i = 0;
  let current: ServiceState | null = null;
  const times = changes.map((c) => Date.parse(c.at));
  const time = (k: number) => times[k];
  // Applies the changes before `limit` (or at it, with `atToo`), adding each state they set to `seen`.
  const apply = (limit: number, atToo: boolean, seen?: Set<ServiceState>) => {
    for (; i < changes.length && time(i) <= nowMs && (time(i) < limit || (atToo && time(i) === limit)); i++) {
      current = changes[i].state;
      seen?.add(current);
    }
  };
  const out: DayState[] = [];
  for (let d = 0; d < days; d++) {
    const start = first + d * DAY;
    // The state in effect as the day begins: a change at midnight sharp replaces it.
    apply(start, true);
    const seen = new Set<ServiceState>(current ? [current] : []);
    apply(start + DAY, false, seen);
    const states = WORST_FIRST.filter((s) => seen.has(s));
    out.push({ day: new Date(start).toISOString().slice(0, 10), state: states[0] ?? null, states });
  }
  return out;
}
