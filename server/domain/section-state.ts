// Pure rules: a phase's, a task's and a section's public state at an instant, and the next instant any of them changes.
import type { ServiceState } from '#data/contracts/states.ts';
import { WORST_FIRST, type PhaseState, type TaskStage } from '#data/contracts/status.ts';

/** Task types that mean "something is broken now". */
export const ISSUE_TYPES: ReadonlySet<string> = new Set(['Incident']);
/** Task types that announce planned work: running or upcoming ones turn the light to "announcement". */
export const ANNOUNCING_TYPES: ReadonlySet<string> = new Set(['Upgrade', 'Maintenance', 'Announcement']);

export interface PhaseTimes {
  startsAt: string | null;
  endsAt: string | null;
}

export interface TaskFacts {
  id: number;
  summary: string;
  type: string;
  isClosed: boolean;
  openedAt: string;
  closedAt: string | null;
  lastEditedAt: string;
  phases: readonly PhaseTimes[];
}

/** A staff decision that beats every rule until it expires (issue: staff override with an expiry). */
export interface StateOverride {
  state: ServiceState;
  reason: string;
  setAt: string;
  expiresAt: string | null;
}
/** What the telemetry rules concluded for a section (Email: stale → unknown, thresholds → issues). */
export interface TelemetryVerdict {
  state: ServiceState;
  reason: string;
  at: string;
}

export interface SectionInputs {
  tasks: readonly TaskFacts[];
  now: Date;
  override?: StateOverride | null;
  telemetry?: TelemetryVerdict | null;
}

const ms = (iso: string) => Date.parse(iso);

/** Ends are inclusive (the seed's "until 12.10.2021" includes the 12th), so a phase is done only after its end. */
export function phaseState(phase: PhaseTimes, now: Date, taskClosed: boolean): PhaseState {
  const t = now.getTime();
  if (phase.endsAt !== null && t > ms(phase.endsAt)) return 'done';
  if (phase.startsAt !== null && t < ms(phase.startsAt)) return 'upcoming';
  // An undated phase of a closed task cannot still be running.
  if (taskClosed) return 'done';
  return 'running';
}

export function taskStage(task: TaskFacts, now: Date): TaskStage {
  if (task.isClosed) return 'closed';
  if (ISSUE_TYPES.has(task.type)) return 'issue';
  if (task.phases.length > 0) {
    const states = task.phases.map((p) => phaseState(p, now, false));
    if (states.includes('running')) return 'running';
    if (states.every((s) => s === 'upcoming')) return 'upcoming';
    // Between two phases the plan is still under way.
    if (states.includes('upcoming')) return 'running';
    return 'open';
  }
  // Announced work without a dated plan counts as running until someone closes it.
  return ANNOUNCING_TYPES.has(task.type) ? 'running' : 'open';
}

/** Higher is worse: issues > unknown > announcement > operational (WORST_FIRST, which the daily bars use too). */
const SEVERITY = Object.fromEntries(WORST_FIRST.map((s, i) => [s, WORST_FIRST.length - i])) as Record<ServiceState, number>;

export interface SectionVerdict {
  state: ServiceState;
  reason: string;
  /**
   * The reason as it may be kept for good (the stored state changes, the feeds): task-given reasons name the tasks by
   * number only, since a summary can be edited later and its old text redacted from the task's history.
   */
  lasting: string;
}

export function sectionState(input: SectionInputs): SectionVerdict {
  const { now } = input;
  const o = input.override;
  if (o && (o.expiresAt === null || ms(o.expiresAt) > now.getTime())) return { state: o.state, reason: o.reason, lasting: o.reason };

  const idle = 'no open incidents or announced work';
  let verdict: SectionVerdict = { state: 'operational', reason: idle, lasting: idle };
  const issues = input.tasks.filter((t) => taskStage(t, now) === 'issue');
  const announcing = input.tasks.filter((t) => {
    const stage = taskStage(t, now);
    return ANNOUNCING_TYPES.has(t.type) && (stage === 'running' || stage === 'upcoming');
  });
  if (issues.length > 0) verdict = { state: 'issues', reason: listTasks(issues), lasting: listTaskNumbers(issues) };
  else if (announcing.length > 0) verdict = { state: 'announcement', reason: listTasks(announcing), lasting: listTaskNumbers(announcing) };

  const tv = input.telemetry;
  if (tv && SEVERITY[tv.state] > SEVERITY[verdict.state]) verdict = { state: tv.state, reason: tv.reason, lasting: tv.reason };
  return verdict;
}

/** Which input gave sectionState's verdict: an active override, the telemetry rules (when they beat the tasks), or the tasks. */
export function verdictSource(input: SectionInputs): 'override' | 'telemetry' | 'tasks' {
  const o = input.override;
  if (o && (o.expiresAt === null || ms(o.expiresAt) > input.now.getTime())) return 'override';
  const tv = input.telemetry;
  if (tv && sectionState({ ...input, telemetry: null }).state !== sectionState(input).state) return 'telemetry';
  return 'tasks';
}

/** A reason names at most three tasks, so a bad day does not flood the overview. */
const REASON_TASKS = 3;

function listTasks(tasks: readonly TaskFacts[]): string {
  const named = tasks
    .slice(0, REASON_TASKS)
    .map((t) => `FS#${t.id} ${t.summary}`)
    .join('; ');
  return tasks.length > REASON_TASKS ? `${named}; and ${tasks.length - REASON_TASKS} more` : named;
}

function listTaskNumbers(tasks: readonly TaskFacts[]): string {
  const named = tasks
    .slice(0, REASON_TASKS)
    .map((t) => `FS#${t.id}`)
    .join(', ');
  return tasks.length > REASON_TASKS ? `${named} and ${tasks.length - REASON_TASKS} more` : named;
}

/** The latest instant that bears on the section's state, or null when nothing ever happened there. */
export function sectionLastUpdated(input: SectionInputs): string | null {
  const candidates = input.tasks.map((t) => t.lastEditedAt);
  if (input.override) candidates.push(input.override.setAt);
  if (input.telemetry) candidates.push(input.telemetry.at);
  if (candidates.length === 0) return null;
  return candidates.reduce((a, b) => (ms(a) >= ms(b) ? a : b));
}

const DAY = 86_400_000;

/** The next instant after `now` at which a phase starts or ends, an override expires, or the day rolls over. */
export function nextBoundary(tasks: readonly TaskFacts[], now: Date, overrides: readonly StateOverride[] = []): Date {
  const t = now.getTime();
  let next = Math.floor(t / DAY) * DAY + DAY;
  const consider = (x: number) => {
    if (x > t && x < next) next = x;
  };
  for (const task of tasks) {
    if (task.isClosed) continue;
    for (const p of task.phases) {
      if (p.startsAt) consider(ms(p.startsAt));
      // A phase turns done one millisecond after its inclusive end.
      if (p.endsAt) consider(ms(p.endsAt) + 1);
    }
  }
  for (const o of overrides) if (o.expiresAt) consider(ms(o.expiresAt));
  return new Date(next);
}
