// Geometry of a deployment plan on its time axis: where each phase sits and whether "now" is on it.
import type { PhaseView } from '#data/contracts/status.ts';

export interface PlacedPhase {
  phase: PhaseView;
  fromPct: number;
  widthPct: number;
}
export interface PlacedPlan {
  start: string;
  end: string;
  phases: PlacedPhase[];
  nowPct: number | null;
}

const round = (x: number) => Math.round(x * 100) / 100;

export function placePlan(phases: readonly PhaseView[], openedAt: string, now: string): PlacedPlan {
  const ms = (s: string) => Date.parse(s);
  const starts = phases.map((p) => p.startsAt ?? null);
  const axisStart = Math.min(...starts.map((s) => (s ? ms(s) : ms(openedAt))), ms(openedAt));
  const ends = phases
    .map((p) => p.endsAt ?? p.startsAt)
    .filter((e): e is string => e !== null)
    .map(ms);
  const axisEnd = Math.max(axisStart + 1, ...ends, ...phases.filter((p) => p.endsAt === null).map(() => ms(now)));
  const span = axisEnd - axisStart;
  const pct = (t: number) => round(((t - axisStart) / span) * 100);
  const placed = phases.map((p) => {
    const from = p.startsAt ? ms(p.startsAt) : axisStart;
    const to = p.endsAt ? ms(p.endsAt) : axisEnd;
    return { phase: p, fromPct: pct(from), widthPct: Math.max(1, round(pct(to) - pct(from))) };
  });
  const n = ms(now);
  return {
    start: new Date(axisStart).toISOString(),
    end: new Date(axisEnd).toISOString(),
    phases: placed,
    nowPct: n >= axisStart && n <= axisEnd ? pct(n) : null,
  };
}
