// Keeps the public status snapshot in memory and rebuilds it only when data changed or a phase boundary passed.
import { createHash } from 'node:crypto';
import type { DB } from '#data/db.ts';
import { STATE_LEGEND } from '#data/contracts/states.ts';
import {
  SECTION_STATE_CHANGES_SHOWN,
  type StatusSnapshot,
  type TaskView,
  type SectionView,
  type StatusJson,
  type SectionTelemetry,
  type SectionStateChange,
} from '#data/contracts/status.ts';
import type { ChangeCounter, Clock, ServerDeps } from '../deps.ts';
import { readPublicRows, type PublicRows } from '../store/public-read.ts';
import { allOverrides } from '../store/overrides.ts';
import { overrideSignal } from './overrides/active.ts';
import { TELEMETRY_REFRESH_MS, telemetrySummarySignal } from './telemetry/section-telemetry.ts';
import { telemetryHealthSignals } from './telemetry/health.ts';
import { FEED_ITEMS } from '../site/feeds.ts';
import {
  latestStateChangeId,
  recentStateChanges,
  recordStateIfChanged,
  sectionHistories,
  type StateChange,
  type StateSource,
  type StoredSectionHistory,
} from '../store/state-changes.ts';
import { historyStart, storedDailyHistory } from '../domain/daily-history.ts';
import { announceStoredChange } from './notify/section-state.ts';
import {
  phaseState,
  taskStage,
  sectionState,
  sectionLastUpdated,
  nextBoundary,
  verdictSource,
  type TaskFacts,
  type StateOverride,
  type TelemetryVerdict,
} from '../domain/section-state.ts';

export const HISTORY_DAYS = 90;

/** Later issues plug staff overrides and telemetry verdicts in here; all are optional. */
export interface SectionSignals {
  override?: (slug: string, now: Date) => StateOverride | null;
  telemetry?: (slug: string, now: Date) => TelemetryVerdict | null;
  /**
   * The next instant the section's telemetry verdict changes with nothing written (a heartbeat becoming stale): a
   * boundary of the snapshot, so "unknown" appears on time. Called right after `telemetry` for the same section.
   */
  telemetryBoundary?: (slug: string, now: Date) => Date | null;
  /**
   * What the section's nodes measured lately, published with the section (null: its nodes do not report). A section
   * with a summary makes the snapshot rebuild every TELEMETRY_REFRESH_MS, so its counts and freshness stay current.
   */
  telemetrySummary?: (slug: string, now: Date) => SectionTelemetry | null;
}

/** The signals of the real app: staff overrides, and the MX nodes' telemetry for TIDINGS_TELEMETRY_SECTION. */
export function publicSignals(deps: Pick<ServerDeps, 'db' | 'config'>): SectionSignals {
  return {
    override: overrideSignal(() => allOverrides(deps.db)),
    ...telemetryHealthSignals(deps.db, deps.config.telemetrySection, deps.config.telemetryHealth),
    telemetrySummary: telemetrySummarySignal(deps.db, deps.config.telemetrySection),
  };
}

export interface BuiltSnapshot {
  /** Increases with every rebuild; caches of rendered pages key on it. */
  generation: number;
  snapshot: StatusSnapshot;
  /** GET /status.json body, serialized once per build. */
  statusJson: string;
  statusJsonEtag: string;
  nextBoundary: Date;
  /** Which input gave each section's state, by slug. */
  sources: ReadonlyMap<string, StateSource>;
  /** Each section's reason as stored in its state changes (SectionVerdict.lasting: tasks by number, no summaries). */
  lastingReasons: ReadonlyMap<string, string>;
  /** The sections' latest stored state changes for the feeds (recentStateChanges); empty unless recordStateChanges. */
  stateChanges: readonly (StateChange & { id: number })[];
}

export interface SnapshotOptions {
  db: DB;
  clock: Clock;
  changes: ChangeCounter;
  displayTimeZone: string;
  publicUrl: string;
  signals?: SectionSignals;
  /**
   * Store each section's state in section_state_changes when a build finds it changed (the live site sets this; a
   * build that finds the stored state again adds nothing, so restarts add no rows).
   */
  recordStateChanges?: boolean;
}

export interface StatusSnapshots {
  current(): BuiltSnapshot;
}

export function createStatusSnapshots(opts: SnapshotOptions): StatusSnapshots {
  let built: BuiltSnapshot | null = null;
  let builtAtVersion = -1;
  let generation = 0;
  const stored = storedHistoryReader(opts.db);
  return {
    current() {
      const now = opts.clock();
      const version = opts.changes.version();
      if (built && version === builtAtVersion && now < built.nextBoundary) return built;
      builtAtVersion = version;
      built = buildSnapshot(readPublicRows(opts.db), now, ++generation, opts, stored(now));
      if (opts.recordStateChanges) {
        recordChanges(opts, built);
        built.stateChanges = recentStateChanges(opts.db, FEED_ITEMS);
      }
      return built;
    },
  };
}

/**
 * The sections' stored changes for the daily bars and change lists, by section id: read again only when a change was
 * stored (the newest id moved) or the bars' first day moved (a new UTC day), not on every rebuild.
 */
function storedHistoryReader(db: DB): (now: Date) => ReadonlyMap<number, StoredSectionHistory> {
  let key = '';
  let value: ReadonlyMap<number, StoredSectionHistory> = new Map();
  return (now) => {
    const since = new Date(historyStart(now, HISTORY_DAYS)).toISOString();
    const k = `${latestStateChangeId(db)} ${since}`;
    if (k !== key) {
      value = sectionHistories(db, since, SECTION_STATE_CHANGES_SHOWN);
      key = k;
    }
    return value;
  };
}

function recordChanges({ db, publicUrl }: Pick<SnapshotOptions, 'db' | 'publicUrl'>, built: BuiltSnapshot): void {
  const at = built.snapshot.generatedAt;
  for (const s of built.snapshot.sections) {
    const change: StateChange = {
      slug: s.slug,
      at,
      state: s.state,
      reason: built.lastingReasons.get(s.slug) ?? s.reason,
      source: built.sources.get(s.slug) ?? 'tasks',
    };
    recordStateIfChanged(db, change, announceStoredChange(db, publicUrl, change));
  }
}

function categoryPath(rows: PublicRows['categories']): (id: number) => string[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return (id) => {
    const path: string[] = [];
    const seen = new Set<number>();
    for (let c = byId.get(id); c && !seen.has(c.id); c = c.parent_id === null ? undefined : byId.get(c.parent_id)) {
      seen.add(c.id);
      path.unshift(c.name);
    }
    return path;
  };
}

export function buildSnapshot(
  rows: PublicRows,
  now: Date,
  generation: number,
  opts: Pick<SnapshotOptions, 'displayTimeZone' | 'publicUrl' | 'signals'>,
  /** The stored state changes by section id (sectionHistories); a section absent from it has none stored. */
  stored: ReadonlyMap<number, StoredSectionHistory> = new Map(),
): BuiltSnapshot {
  const pathOf = categoryPath(rows.categories);
  const sectionById = new Map(rows.sections.map((s) => [s.id, s]));
  const commentsByTask = groupBy(rows.comments, (c) => c.task_id);
  const phasesByTask = groupBy(rows.phases, (p) => p.task_id);

  const facts: TaskFacts[] = [];
  const tasks: TaskView[] = rows.tasks.map((t) => {
    const phases = phasesByTask.get(t.id) ?? [];
    const f: TaskFacts = {
      id: t.id,
      summary: t.summary,
      type: t.type,
      isClosed: t.is_closed === 1,
      openedAt: t.opened_at,
      closedAt: t.closed_at,
      lastEditedAt: t.last_edited_at,
      phases: phases.map((p) => ({ startsAt: p.starts_at, endsAt: p.ends_at })),
    };
    facts.push(f);
    const section = t.section_id === null ? undefined : sectionById.get(t.section_id);
    return {
      id: t.id,
      summary: t.summary,
      detailsHtml: t.details_html,
      type: t.type,
      categoryPath: pathOf(t.category_id),
      section: section ? { slug: section.slug, name: section.name } : null,
      status: t.status,
      isClosed: f.isClosed,
      percent: t.percent,
      openedBy: t.opened_by,
      openedAt: t.opened_at,
      closedBy: t.closed_by,
      closedAt: t.closed_at,
      closeReason: t.close_reason,
      lastEditedAt: t.last_edited_at,
      stage: taskStage(f, now),
      phases: phases.map((p) => ({
        title: p.title,
        startsAt: p.starts_at,
        endsAt: p.ends_at,
        note: p.note,
        state: phaseState({ startsAt: p.starts_at, endsAt: p.ends_at }, now, f.isClosed),
      })),
      comments: (commentsByTask.get(t.id) ?? []).map((c) => ({ id: c.id, at: c.created_at, author: c.author, bodyHtml: c.body_html })),
    };
  });

  const overrides: StateOverride[] = [];
  const sources = new Map<string, StateSource>();
  const lastingReasons = new Map<string, string>();
  let telemetryNext: Date | null = null;
  let measured = false;
  const sections: SectionView[] = rows.sections.map((s) => {
    const own = facts.filter((_, i) => rows.tasks[i].section_id === s.id);
    const override = opts.signals?.override?.(s.slug, now) ?? null;
    const telemetry = opts.signals?.telemetry?.(s.slug, now) ?? null;
    const tb = opts.signals?.telemetryBoundary?.(s.slug, now) ?? null;
    if (tb && (telemetryNext === null || tb < telemetryNext)) telemetryNext = tb;
    if (override) overrides.push(override);
    const input = { tasks: own, now, override, telemetry };
    const verdict = sectionState(input);
    const source = verdictSource(input);
    sources.set(s.slug, source);
    lastingReasons.set(s.slug, verdict.lasting);
    const summary = opts.signals?.telemetrySummary?.(s.slug, now) ?? null;
    if (summary) measured = true;
    return {
      slug: s.slug,
      name: s.name,
      description: s.description,
      state: verdict.state,
      reason: verdict.reason,
      lastUpdated: sectionLastUpdated(input),
      ...storedHistory(stored.get(s.id), { at: now.toISOString(), to: verdict.state, reason: verdict.lasting, source }, now),
      ...(summary ? { telemetry: summary } : {}),
    };
  });

  const changes = sections
    .map((s) => s.lastUpdated)
    .filter((x): x is string => x !== null)
    .sort();
  const snapshot: StatusSnapshot = {
    generatedAt: now.toISOString(),
    lastUpdated: changes.at(-1) ?? null,
    displayTimeZone: opts.displayTimeZone,
    sections,
    tasks,
    taskTypes: rows.taskTypes,
    statuses: rows.statuses,
  };
  const statusJson = JSON.stringify(toStatusJson(snapshot, opts.publicUrl));
  return {
    generation,
    snapshot,
    statusJson,
    statusJsonEtag: `"${createHash('sha256').update(statusJson).digest('base64url').slice(0, 22)}"`,
    nextBoundary: [measured ? nextRefresh(now) : null, telemetryNext].reduce<Date>(
      (a, b) => (b && b > now ? earlier(a, b) : a),
      nextBoundary(facts, now, overrides),
    ),
    sources,
    lastingReasons,
    stateChanges: [],
  };
}

/**
 * A section's daily states and latest changes from its stored ones, with the state this build found (`live`) taken as
 * a change at `now` when it differs from the last stored: it is the row recordChanges stores right after the build,
 * so the page shows a change at once rather than one rebuild later.
 */
function storedHistory(
  h: StoredSectionHistory | undefined,
  live: Omit<SectionStateChange, 'from'>,
  now: Date,
): Pick<SectionView, 'history' | 'recordedSince' | 'stateChanges'> {
  const last = h?.recent[0]?.to ?? null;
  const pending: SectionStateChange | null = last === live.to ? null : { ...live, from: last };
  const window = pending ? [...(h?.window ?? []), { at: pending.at, state: pending.to }] : (h?.window ?? []);
  const recent = h?.recent ?? [];
  return {
    history: storedDailyHistory(window, now, HISTORY_DAYS),
    recordedSince: h?.firstAt ?? pending?.at ?? null,
    stateChanges: pending ? [pending, ...recent].slice(0, SECTION_STATE_CHANGES_SHOWN) : recent,
  };
}

export function toStatusJson(s: StatusSnapshot, publicUrl: string): StatusJson {
  return {
    generatedAt: s.generatedAt,
    lastUpdated: s.lastUpdated,
    sections: s.sections.map(({ history: _h, recordedSince: _r, stateChanges: _c, ...rest }) => ({
      ...rest,
      legend: STATE_LEGEND[rest.state],
      url: `${publicUrl}/section/${rest.slug}`,
    })),
    openTasks: s.tasks
      .filter((t) => !t.isClosed)
      .map(({ comments: _c, detailsHtml: _d, ...rest }) => ({
        ...rest,
        url: `${publicUrl}/task/${rest.id}`,
      })),
  };
}

/** The next multiple of TELEMETRY_REFRESH_MS after now (minute starts are multiples of it). */
function nextRefresh(now: Date): Date {
  return new Date(Math.floor(now.getTime() / TELEMETRY_REFRESH_MS) * TELEMETRY_REFRESH_MS + TELEMETRY_REFRESH_MS);
}

const earlier = (a: Date, b: Date): Date => (a < b ? a : b);

function groupBy<T>(items: readonly T[], key: (t: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
