// Pure rules of a deployment plan: where each phase stands at a given instant, and which transitions are due.

export type PhaseState = 'upcoming' | 'running' | 'done';
export type PlanState = 'empty' | 'upcoming' | 'running' | 'done';
export type TransitionKind = 'started' | 'ended';

export interface PlanPhase {
  id?: number;
  title: string;
  /** UTC instants (ISO text); null = open end. */
  startsAt: string | null;
  endsAt: string | null;
}

export interface Transition {
  phaseId: number | undefined;
  phaseTitle: string;
  kind: TransitionKind;
  /** The boundary instant that makes this transition happen. */
  at: string;
}

const ms = (iso: string) => Date.parse(iso);

/**
 * A phase without a start has been under way since the plan began ("until 12.10." in FS#2733);
 * a phase without an end runs until someone closes the task. An end is inclusive (the seed stores
 * "until the 12th" as the last millisecond of that day), so the phase is done only after it.
 */
export function phaseState(phase: PlanPhase, now: Date): PhaseState {
  const t = now.getTime();
  if (phase.endsAt !== null && t > ms(phase.endsAt)) return 'done';
  if (phase.startsAt !== null && t < ms(phase.startsAt)) return 'upcoming';
  return 'running';
}

export function planState(phases: readonly PlanPhase[], now: Date): PlanState {
  if (phases.length === 0) return 'empty';
  const states = phases.map((p) => phaseState(p, now));
  if (states.every((s) => s === 'done')) return 'done';
  if (states.every((s) => s === 'upcoming')) return 'upcoming';
  return 'running';
}

/**
 * Every boundary that has been crossed at `now`, oldest first. Only dated boundaries count: an open
 * start never "happens". Whether a transition was already handled is the store's business (marks).
 */
export function crossedTransitions(phases: readonly PlanPhase[], now: Date): Transition[] {
  const t = now.getTime();
  const out: Transition[] = [];
  for (const p of phases) {
    if (p.startsAt !== null && t >= ms(p.startsAt)) out.push({ phaseId: p.id, phaseTitle: p.title, kind: 'started', at: p.startsAt });
    if (p.endsAt !== null && t > ms(p.endsAt)) out.push({ phaseId: p.id, phaseTitle: p.title, kind: 'ended', at: p.endsAt });
  }
  // Ends sort before starts at the same instant: phase 1 ends, then phase 2 starts.
  return out.sort((a, b) => ms(a.at) - ms(b.at) || (a.kind === b.kind ? 0 : a.kind === 'ended' ? -1 : 1));
}

/**
 * Transitions are commented only while they are news: a boundary older than `catchUpMs` when first
 * seen (a plan entered after the fact, a long outage, a clock jumping far ahead) is marked silently.
 */
export function isNews(t: Transition, now: Date, catchUpMs: number): boolean {
  return now.getTime() - ms(t.at) <= catchUpMs;
}

/** Status names the plan moves between; a renamed or custom status is left to staff. */
export const PLAN_STATUS = { before: ['New', 'Planned'], during: 'In progress', after: 'Monitoring' } as const;

/** The status a task should move to after a commented transition, or null to leave it alone. */
export function statusAfterTransition(current: string, plan: PlanState): string | null {
  if (plan === 'running' && (PLAN_STATUS.before as readonly string[]).includes(current)) return PLAN_STATUS.during;
  if (plan === 'done' && ((PLAN_STATUS.before as readonly string[]).includes(current) || current === PLAN_STATUS.during))
    return PLAN_STATUS.after;
  return null;
}

/** Staff-typed titles show literally, never as Markdown syntax. */
const escapeMarkdown = (s: string) => s.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`);

/** The automatic comment's text (Markdown; rendered and sanitized like any comment). */
export function transitionComment(ts: readonly Transition[], plan: PlanState): string {
  const lines = ts.map((t) => `Phase "${escapeMarkdown(t.phaseTitle)}" ${t.kind === 'started' ? 'has started' : 'has ended'}.`);
  if (plan === 'done') lines.push('All phases of the deployment plan are done.');
  return `${lines.join('\n')}\n\n_(automatic note from the deployment plan)_`;
}
