// SQL for MX node telemetry: the per-node cursor, minute rollups (outcomes, latency, gauges), heartbeats, refusal counters.
import type { Statement } from 'better-sqlite3';
import type { DB } from '#data/db.ts';
import type { RouteKind, TelemetryEventType, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';

export const MINUTE_MS = 60_000;
export const minuteOf = (at: number): number => at - (at % MINUTE_MS);
export const HOUR_MS = 3_600_000;
export const hourOf = (at: number): number => at - (at % HOUR_MS);

/** Why a telemetry request was refused; each has its counter (data/migrations/backend/006_telemetry.sql). */
export const TELEMETRY_REFUSAL_REASONS = ['bad-token', 'malformed', 'too-large', 'gap', 'future'] as const;
export type TelemetryRefusalReason = (typeof TELEMETRY_REFUSAL_REASONS)[number];

/** One minute bucket of event counts; route and reason are '' for events that have none. */
export interface OutcomeCount {
  minute: number;
  route: RouteKind | '';
  outcome: TelemetryEventType;
  reason: string;
  count: number;
}

export interface LatencyCount {
  minute: number;
  route: RouteKind;
  bucket: number;
  count: number;
}

// ── statements of the ingest path, prepared once per database ─────────────

/**
 * Rows one multi-row upsert writes: measured with bench/telemetry, 16 rows per statement write a batch's buckets in
 * about 0.6 of the time one statement per row takes (fewer calls into SQLite); longer statements were no faster.
 */
export const ROWS_PER_UPSERT = 16;

const OUTCOME_COLUMNS = 6;
const LATENCY_COLUMNS = 5;
const upsertOutcomes = (rows: number) => `INSERT INTO telemetry_minutes (node_id, minute, route, outcome, reason, count)
  VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}
  ON CONFLICT(node_id, minute, route, outcome, reason) DO UPDATE SET count = count + excluded.count`;
const upsertLatency = (rows: number) => `INSERT INTO telemetry_latency_minutes (node_id, minute, route, bucket, count)
  VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')}
  ON CONFLICT(node_id, minute, route, bucket) DO UPDATE SET count = count + excluded.count`;

interface IngestStatements {
  readCursor: Statement;
  writeCursor: Statement;
  markHour: Statement;
  /** Index k: the upsert of k rows (1..ROWS_PER_UPSERT), prepared when first needed. */
  outcomes: Statement[];
  latency: Statement[];
}

/** Keyed by the database handle: a closed or dropped handle takes its statements with it. */
const STATEMENTS = new WeakMap<DB, IngestStatements>();

function statements(db: DB): IngestStatements {
  let s = STATEMENTS.get(db);
  if (!s) {
    s = {
      readCursor: db.prepare('SELECT cursor FROM telemetry_cursors WHERE node_id = ?'),
      writeCursor: db.prepare(`INSERT INTO telemetry_cursors (node_id, cursor, updated_at) VALUES (?, ?, ?)
              ON CONFLICT(node_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`),
      markHour: db.prepare('INSERT OR IGNORE INTO telemetry_dirty_hours (hour) VALUES (?)'),
      outcomes: [],
      latency: [],
    };
    STATEMENTS.set(db, s);
  }
  return s;
}

/** Runs `rows` through the k-row upserts: ROWS_PER_UPSERT at a time, then the rest in one statement. */
function upsertRows<T>(
  db: DB,
  cache: Statement[],
  sql: (rows: number) => string,
  columns: number,
  rows: readonly T[],
  bind: (params: unknown[], at: number, row: T) => void,
): void {
  for (let i = 0; i < rows.length; i += ROWS_PER_UPSERT) {
    const k = Math.min(ROWS_PER_UPSERT, rows.length - i);
    const params: unknown[] = new Array(k * columns);
    for (let j = 0; j < k; j++) bind(params, j * columns, rows[i + j]);
    cache[k] ??= db.prepare(sql(k));
    cache[k].run(params);
  }
}

// ── cursor ─────────────────────────────────────────────────────────────────

/** The highest seq applied for the node; 0 before its first batch. */
export function readCursor(db: DB, nodeId: number): number {
  const r = statements(db).readCursor.get(nodeId) as { cursor: number } | undefined;
  return r?.cursor ?? 0;
}

export function writeCursor(db: DB, nodeId: number, cursor: number, now: number): void {
  statements(db).writeCursor.run(nodeId, cursor, now);
}

// ── rollups ────────────────────────────────────────────────────────────────

/**
 * Marks the hours of these minutes for the rollup job to (re-)roll (data/migrations/backend/007_telemetry_rollups.sql):
 * every write to a minute table calls it in the same transaction, so a late backlog corrects its hour and day.
 */
export function markHoursDirty(db: DB, minutes: Iterable<number>): void {
  const hours = new Set<number>();
  for (const m of minutes) hours.add(hourOf(m));
  const stmt = statements(db).markHour;
  for (const h of hours) stmt.run(h);
}

/** Adds counts to the minute buckets (creating the buckets a count is the first of). */
export function addOutcomeCounts(db: DB, nodeId: number, counts: readonly OutcomeCount[]): void {
  upsertRows(db, statements(db).outcomes, upsertOutcomes, OUTCOME_COLUMNS, counts, (p, at, c) => {
    p[at] = nodeId;
    p[at + 1] = c.minute;
    p[at + 2] = c.route;
    p[at + 3] = c.outcome;
    p[at + 4] = c.reason;
    p[at + 5] = c.count;
  });
  markHoursDirty(db, minutesOf(counts));
}

/** Adds counts to the latency buckets, as addOutcomeCounts does to the outcome buckets. */
export function addLatencyCounts(db: DB, nodeId: number, counts: readonly LatencyCount[]): void {
  upsertRows(db, statements(db).latency, upsertLatency, LATENCY_COLUMNS, counts, (p, at, c) => {
    p[at] = nodeId;
    p[at + 1] = c.minute;
    p[at + 2] = c.route;
    p[at + 3] = c.bucket;
    p[at + 4] = c.count;
  });
  markHoursDirty(db, minutesOf(counts));
}

function* minutesOf(counts: readonly { minute: number }[]): Iterable<number> {
  for (const c of counts) yield c.minute;
}

// ── heartbeats and gauges ──────────────────────────────────────────────────

export interface HeartbeatRow extends TelemetryHeartbeat {
  nodeId: number;
  nodeName: string;
  /** When the backend received it, by its own clock. */
  receivedAt: number;
}

/**
 * Keeps the node's latest reading: a heartbeat read earlier than the one held (a late retry) does not replace it.
 * Returns whether it did.
 */
export function upsertHeartbeat(db: DB, nodeId: number, hb: TelemetryHeartbeat, receivedAt: number): boolean {
  return (
    db
      .prepare(`INSERT INTO telemetry_heartbeats (node_id, received_at, at, queue_depth, oldest_queued_ms, in_retry, config_version, last_sync_at, last_seq, scanning)
              VALUES (@nodeId, @receivedAt, @at, @queueDepth, @oldestQueuedMs, @inRetry, @configVersion, @lastSyncAt, @lastSeq, @scanning)
              ON CONFLICT(node_id) DO UPDATE SET received_at = excluded.received_at, at = excluded.at, queue_depth = excluded.queue_depth,
                oldest_queued_ms = excluded.oldest_queued_ms, in_retry = excluded.in_retry, config_version = excluded.config_version,
                last_sync_at = excluded.last_sync_at, last_seq = excluded.last_seq, scanning = excluded.scanning
              WHERE excluded.at >= telemetry_heartbeats.at`)
      // scanning: NULL from a node older than the field (it says nothing either way).
      .run({ nodeId, receivedAt, ...hb, scanning: hb.scanning ?? null }).changes > 0
  );
}

/** Folds a reading into its minute's gauge row: each gauge keeps the largest value of the minute. */
export function foldGaugeMinute(db: DB, nodeId: number, hb: TelemetryHeartbeat): void {
  db.prepare(`INSERT INTO telemetry_gauge_minutes (node_id, minute, queue_depth_max, oldest_queued_ms_max, in_retry_max)
              VALUES (?, ?, ?, ?, ?)
              ON CONFLICT(node_id, minute) DO UPDATE SET
                queue_depth_max = max(queue_depth_max, excluded.queue_depth_max),
                oldest_queued_ms_max = nullif(max(ifnull(oldest_queued_ms_max, -1), ifnull(excluded.oldest_queued_ms_max, -1)), -1),
                in_retry_max = max(in_retry_max, excluded.in_retry_max)`).run(
    nodeId,
    minuteOf(hb.at),
    hb.queueDepth,
    hb.oldestQueuedMs,
    hb.inRetry,
  );
  markHoursDirty(db, [minuteOf(hb.at)]);
}

const HEARTBEAT_SELECT = `SELECT h.node_id AS nodeId, n.name AS nodeName, h.received_at AS receivedAt, h.at, h.queue_depth AS queueDepth,
  h.oldest_queued_ms AS oldestQueuedMs, h.in_retry AS inRetry, h.config_version AS configVersion, h.last_sync_at AS lastSyncAt,
  h.last_seq AS lastSeq, h.scanning
  FROM telemetry_heartbeats h JOIN mx_nodes n ON n.id = h.node_id`;

export function latestHeartbeats(db: DB, nodeId?: number): HeartbeatRow[] {
  const rows = (
    nodeId === undefined
      ? db.prepare(`${HEARTBEAT_SELECT} ORDER BY n.name`).all()
      : db.prepare(`${HEARTBEAT_SELECT} WHERE h.node_id = ?`).all(nodeId)
  ) as (Omit<HeartbeatRow, 'scanning'> & { scanning: 'on' | 'off' | null })[];
  // As the node sent it: no scanning field from a node that did not say.
  return rows.map(({ scanning, ...h }) => (scanning === null ? h : { ...h, scanning }));
}

// ── refusals ───────────────────────────────────────────────────────────────

/** One more refusal on the (node, reason) counter: an UPSERT, never a row per refusal. */
export function bumpRefusal(db: DB, nodeId: number | null, reason: TelemetryRefusalReason, at: number): void {
  db.prepare(`INSERT INTO telemetry_refusals (node_id, reason, count, last_at) VALUES (?, ?, 1, ?)
              ON CONFLICT(ifnull(node_id, 0), reason) DO UPDATE SET count = count + 1, last_at = max(last_at, excluded.last_at)`).run(
    nodeId,
    reason,
    at,
  );
}

export interface RefusalCount {
  nodeId: number | null;
  /** null for the node-less counter. */
  nodeName: string | null;
  reason: TelemetryRefusalReason;
  count: number;
  lastAt: number;
}

export function refusalCounts(db: DB): RefusalCount[] {
  return db
    .prepare(`SELECT r.node_id AS nodeId, n.name AS nodeName, r.reason, r.count, r.last_at AS lastAt
              FROM telemetry_refusals r LEFT JOIN mx_nodes n ON n.id = r.node_id
              ORDER BY r.node_id IS NOT NULL, n.name, r.reason`)
    .all() as RefusalCount[];
}

// ── per node, for staff ────────────────────────────────────────────────────

export interface NodeTelemetryRow {
  nodeId: number;
  nodeName: string;
  /** null before the node's first batch. */
  cursor: number | null;
  heartbeat: HeartbeatRow | null;
}

/** Every MX node with its cursor and latest heartbeat (null where there is none yet). */
export function nodeTelemetry(db: DB): NodeTelemetryRow[] {
  const nodes = db
    .prepare(`SELECT n.id AS nodeId, n.name AS nodeName, c.cursor FROM mx_nodes n
              LEFT JOIN telemetry_cursors c ON c.node_id = n.id ORDER BY n.name`)
    .all() as { nodeId: number; nodeName: string; cursor: number | null }[];
  const beats = new Map(latestHeartbeats(db).map((h) => [h.nodeId, h]));
  return nodes.map((n) => ({ ...n, heartbeat: beats.get(n.nodeId) ?? null }));
}
