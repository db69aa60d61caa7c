// The public status snapshot: what the site renders, what /status.json publishes, in one checked shape.
import { z } from 'zod';
import { ServiceState } from './states.ts';

/** UTC instant as ISO-8601 text ending in Z, as the database stores it. */
const Instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

export const PHASE_STATES = ['done', 'running', 'upcoming'] as const;
export const PhaseState = z.enum(PHASE_STATES);
export type PhaseState = z.infer<typeof PhaseState>;

export const PhaseView = z.object({
  title: z.string(),
  startsAt: Instant.nullable(),
  endsAt: Instant.nullable(),
  note: z.string(),
  state: PhaseState,
});
export type PhaseView = z.infer<typeof PhaseView>;

export const CommentView = z.object({
  id: z.number().int(),
  at: Instant,
  author: z.string(),
  /** Sanitized when saved (server/domain/markdown.ts): safe to insert as HTML. */
  bodyHtml: z.string(),
});
export type CommentView = z.infer<typeof CommentView>;

export const SectionRef = z.object({ slug: z.string(), name: z.string() });
export type SectionRef = z.infer<typeof SectionRef>;

/** Where a task stands for the public: drives the overview's grouping. */
export const TASK_STAGES = ['issue', 'running', 'upcoming', 'open', 'closed'] as const;
export const TaskStage = z.enum(TASK_STAGES);
export type TaskStage = z.infer<typeof TaskStage>;

export const TaskView = z.object({
  id: z.number().int(),
  summary: z.string(),
  /** Sanitized when saved: safe to insert as HTML. */
  detailsHtml: z.string(),
  type: z.string(),
  categoryPath: z.array(z.string()),
  section: SectionRef.nullable(),
  status: z.string(),
  isClosed: z.boolean(),
  percent: z.number().int().min(0).max(100),
  openedBy: z.string(),
  openedAt: Instant,
  closedBy: z.string().nullable(),
  closedAt: Instant.nullable(),
  closeReason: z.string().nullable(),
  lastEditedAt: Instant,
  stage: TaskStage,
  phases: z.array(PhaseView),
  comments: z.array(CommentView),
});
export type TaskView = z.infer<typeof TaskView>;

/**
 * How a day that saw several states is shown: by the worst of them, in this order (worst first). "unknown" ranks above
 * "announcement": not knowing whether a service works is worse news than announced work. The same order decides when
 * the telemetry verdict beats the tasks' state (server/domain/section-state.ts).
 */
export const WORST_FIRST = ['issues', 'unknown', 'announcement', 'operational'] as const satisfies readonly ServiceState[];

export const DayState = z.object({
  /** A UTC day, "2026-01-15". */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  /**
   * The worst state (WORST_FIRST) the section was in during the day, read from its stored state changes; null means no
   * data: the day ended before the section's first stored state (the section did not exist yet, or nothing recorded
   * its state). A day is never filled in from tasks.
   */
  state: ServiceState.nullable(),
  /** Every state the section was in during the day, worst first: `state` and the others it passed through; [] when no data. */
  states: z.array(ServiceState),
});
export type DayState = z.infer<typeof DayState>;

export const STATE_SOURCES = ['tasks', 'telemetry', 'override'] as const;
/** What gave a stored state: the section's tasks, the telemetry rules, or a staff override. */
export const StateSource = z.enum(STATE_SOURCES);
export type StateSource = z.infer<typeof StateSource>;

/** How many of a section's latest stored state changes the snapshot carries for its page. */
export const SECTION_STATE_CHANGES_SHOWN = 20;

/** One stored change of a section's state (section_state_changes), as its page lists it. */
export const SectionStateChange = z.object({
  at: Instant,
  /** The state before; null for the section's first stored state (when recording began, not a change). */
  from: ServiceState.nullable(),
  to: ServiceState,
  /** As stored: tasks are named by number only ("FS#12"), since a summary may later be edited or redacted. */
  reason: z.string(),
  source: StateSource,
});
export type SectionStateChange = z.infer<typeof SectionStateChange>;

/** How many minutes the status summary of a section's telemetry covers (the current minute and the ones before it). */
export const TELEMETRY_STATUS_WINDOW_MINUTES = 5;

/**
 * What the nodes reporting for a section measured recently (issue 10): published in /status.json for every section
 * whose nodes report, none other. Counts are exact sums of the minute rollups; nothing here is an average.
 */
export const SectionTelemetry = z.object({
  window: z.literal(`${TELEMETRY_STATUS_WINDOW_MINUTES}m`),
  /**
   * Start of the oldest minute counted: events from here to the snapshot's generatedAt are counted (the current,
   * partial minute and the four before it), so the window is between four and five minutes long.
   */
  since: Instant,
  accepted: z.number().int().nonnegative(),
  delivered: z.number().int().nonnegative(),
  deferred: z.number().int().nonnegative(),
  bounced: z.number().int().nonnegative(),
  /** Refused at SMTP time, every reason. */
  rejected: z.number().int().nonnegative(),
  /**
   * Accept-to-delivery p95 as the upper bound of its histogram bucket ("p95 ≤ this"); null when nothing was delivered
   * in the window, never a made-up zero.
   */
  p95LatencyMs: z.number().int().positive().nullable(),
  /** True when p95 lies past the histogram's largest bound: p95LatencyMs is then that bound and p95 is above it. */
  p95LatencyOverflow: z.boolean(),
  /** Sum over the nodes of the queue depth in each node's latest heartbeat. */
  queueDepth: z.number().int().nonnegative(),
  /** Nodes that have sent a heartbeat (fresh or not: see lastHeartbeatAt). */
  nodes: z.number().int().nonnegative(),
  /** When the backend received the newest heartbeat of any node; null before the first. */
  lastHeartbeatAt: Instant.nullable(),
  /** generatedAt minus lastHeartbeatAt; null before the first heartbeat. */
  freshestHeartbeatAgeMs: z.number().int().nonnegative().nullable(),
});
export type SectionTelemetry = z.infer<typeof SectionTelemetry>;

export const SectionView = z.object({
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  state: ServiceState,
  /** Why the section has its state, in words ("FS#12 Mail delay", "no open tasks"). */
  reason: z.string(),
  /** Latest change that bears on the state; null when nothing ever happened in the section. */
  lastUpdated: Instant.nullable(),
  /**
   * Oldest first, one entry per UTC day, ending today (90: HISTORY_DAYS in server/services/status-snapshot.ts), read
   * from the stored state changes.
   */
  history: z.array(DayState),
  /** When the section's first state was stored (days before it have no data); null while none is stored. */
  recordedSince: Instant.nullable(),
  /** The section's latest stored state changes, newest first, at most SECTION_STATE_CHANGES_SHOWN. */
  stateChanges: z.array(SectionStateChange),
  /** Only for a section whose nodes report telemetry (TIDINGS_TELEMETRY_SECTION); absent for the others. */
  telemetry: SectionTelemetry.optional(),
});
export type SectionView = z.infer<typeof SectionView>;

export const StatusSnapshot = z.object({
  generatedAt: Instant,
  /** The latest change any section shows (task edit, override, telemetry); null on an empty installation. */
  lastUpdated: Instant.nullable(),
  displayTimeZone: z.string(),
  sections: z.array(SectionView),
  /** Every public task, newest edit first. */
  tasks: z.array(TaskView),
  /** Distinct values for the task list's filters, in the staff-defined order. */
  taskTypes: z.array(z.string()),
  statuses: z.array(z.string()),
});
export type StatusSnapshot = z.infer<typeof StatusSnapshot>;

/**
 * GET /status.json: sections and the tasks that are not closed, without comments (kept small for CDNs). A section's
 * history (daily states, recordedSince, stateChanges) is left out: the pages show it and the feeds carry the changes.
 */
export const PublicTaskSummary = TaskView.omit({ comments: true, detailsHtml: true }).extend({ url: z.string() });
export type PublicTaskSummary = z.infer<typeof PublicTaskSummary>;

export const StatusJson = z.object({
  generatedAt: Instant,
  lastUpdated: Instant.nullable(),
  sections: z.array(
    SectionView.omit({ history: true, recordedSince: true, stateChanges: true }).extend({ legend: z.string(), url: z.string() }),
  ),
  openTasks: z.array(PublicTaskSummary),
});
export type StatusJson = z.infer<typeof StatusJson>;
