// SQL of the quarantine index and the staff actions on it (data/migrations/backend/011_quarantine.sql). The index is
// written only by the telemetry ingest (in the batch's transaction); the actions by the staff services and resolved
// by the ingest when the node's event for the copy arrives.
import type {
  PurgeReason,
  QuarantineAction,
  QuarantineActionKind,
  QuarantineEntry,
  QuarantineReason,
  QuarantineRefusal,
  QuarantineStatus,
} from '#data/contracts/quarantine.ts';
import type { RouteKind } from '#data/contracts/route.ts';
import type { DB } from '#data/db.ts';
import { stmt } from './prepared.ts';

/** A pending (or resolved) staff request on one copy. */
export interface QuarantineActionRow {
  id: number;
  nodeId: number;
  deliveryId: number;
  messageId: string;
  action: QuarantineActionKind;
  requestedBy: number | null;
  /** ISO time, by the backend's clock. */
  requestedAt: string;
  state: 'pending' | 'done' | 'superseded' | 'refused';
  resolvedAt: string | null;
}

/** One indexed copy as the API and the staff page show it. */
export interface QuarantineItem {
  node: string;
  nodeId: number;
  deliveryId: number;
  messageId: string;
  reason: QuarantineReason;
  recipient: string;
  /** Where a release takes the copy (QuarantineEntry route, target): a 'forward' goes to an external provider. */
  route: RouteKind;
  target: string;
  sender: string;
  subject: string | null;
  size: number;
  score: number | null;
  symbols: string[];
  virus: string | null;
  /** ISO time of the node's 'quarantined' event. */
  quarantinedAt: string;
  status: QuarantineStatus;
  /** ISO time of the event that released or purged it; null while held. */
  statusAt: string | null;
  purgeReason: PurgeReason | null;
  /** The staff request waiting for the node, if any. */
  pending: { id: number; action: QuarantineActionKind; requestedAt: string } | null;
  /** The copy's latest staff request when its node refused it (changed nothing), and why; null otherwise. */
  refused: { id: number; action: QuarantineActionKind; why: QuarantineRefusal; at: string } | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

// ── written by the ingest ──────────────────────────────────────────────────

// The ingest runs these for every quarantine event of a batch (a spam run can bring hundreds): prepared once per
// database handle by stmt() (server/store/prepared.ts), as the accounting store's statements are.
const INDEX_SQL = `INSERT INTO quarantine_index (node_id, delivery_id, message_id, reason, recipient, route_kind, target, sender,
                     subject, size, score, symbols, virus, quarantined_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(node_id, delivery_id) DO UPDATE SET message_id = excluded.message_id, reason = excluded.reason,
                     recipient = excluded.recipient, route_kind = excluded.route_kind, target = excluded.target, sender = excluded.sender,
                     subject = excluded.subject, size = excluded.size, score = excluded.score, symbols = excluded.symbols,
                     virus = excluded.virus, quarantined_at = excluded.quarantined_at, status = 'held', status_at = NULL, purge_reason = NULL
                   WHERE quarantine_index.message_id <> excluded.message_id`;
const SUPERSEDE_OTHER_SQL = `UPDATE quarantine_actions SET state = 'superseded', resolved_at = ?
                             WHERE node_id = ? AND delivery_id = ? AND state = 'pending' AND message_id <> ?`;
const RESOLVE_COPY_SQL = `UPDATE quarantine_index SET status = ?, status_at = ?, purge_reason = ?
                          WHERE node_id = ? AND delivery_id = ? AND message_id = ? AND status = 'held'`;
const RESOLVE_ACTIONS_SQL = `UPDATE quarantine_actions SET state = CASE WHEN id = ? THEN 'done' ELSE 'superseded' END, resolved_at = ?
                             WHERE node_id = ? AND delivery_id = ? AND message_id = ? AND state = 'pending'`;
const REFUSE_SQL = `UPDATE quarantine_actions SET state = 'refused', refused_why = ?, resolved_at = ?
                    WHERE id = ? AND node_id = ? AND delivery_id = ? AND state = 'pending'`;

/**
 * A copy the node quarantined. A second event for the same copy (a restored node database) changes nothing; one for the
 * same (node, delivery) under another message id is a new copy (the node's database was rebuilt and its delivery ids
 * started again): it replaces the row, held, and the old copy's pending actions are superseded, never applied to it.
 */
export function indexQuarantined(
  db: DB,
  nodeId: number,
  e: { messageId: string; reason: QuarantineReason; at: number; entry: QuarantineEntry },
  now: number,
): void {
  const { entry } = e;
  stmt(db, SUPERSEDE_OTHER_SQL).run([now, nodeId, entry.deliveryId, e.messageId]);
  stmt(db, INDEX_SQL).run([
    nodeId,
    entry.deliveryId,
    e.messageId,
    e.reason,
    entry.recipient,
    entry.route,
    entry.target,
    entry.sender,
    entry.subject,
    entry.size,
    entry.score,
    JSON.stringify(entry.symbols),
    entry.virus,
    e.at,
  ]);
}

/**
 * A copy left the quarantine (its node's 'released' or 'purged' event): the index row says so (when it is still held:
 * the first event that moves a copy wins), and its pending actions are resolved, 'done' for the one the event names,
 * 'superseded' for any other. A copy the index never had (a node older than the entry) changes nothing.
 */
export function resolveCopy(
  db: DB,
  nodeId: number,
  e: {
    deliveryId: number;
    messageId: string;
    at: number;
    status: 'released' | 'purged';
    purgeReason: PurgeReason | null;
    actionId: number | null;
  },
  now: number,
): void {
  stmt(db, RESOLVE_COPY_SQL).run([e.status, e.at, e.purgeReason, nodeId, e.deliveryId, e.messageId]);
  stmt(db, RESOLVE_ACTIONS_SQL).run([e.actionId ?? 0, now, nodeId, e.deliveryId, e.messageId]);
}

/**
 * The node applied no change for a staff action (its 'quarantine-refused' event): the action is resolved as 'refused'
 * with the node's why, so it is no longer handed to the node and the copy takes new requests. The copy's index row is
 * left as it is: the node's own events are what move it. An action that is no longer pending changes nothing.
 */
export function refuseAction(
  db: DB,
  nodeId: number,
  e: { actionId: number; deliveryId: number; why: QuarantineRefusal },
  now: number,
): void {
  stmt(db, REFUSE_SQL).run([e.why, now, e.actionId, nodeId, e.deliveryId]);
}

/**
 * Deletes up to `limit` index rows of copies that left the quarantine (released or purged) before `before`, with their
 * resolved actions; returns how many. Held copies stay whatever their age: the node's retention purges them, and its
 * event moves them here. The audit log keeps who asked for what.
 */
export function pruneQuarantineIndex(db: DB, before: number, limit: number): number {
  return db
    .prepare(`DELETE FROM quarantine_index WHERE (node_id, delivery_id) IN (SELECT node_id, delivery_id FROM quarantine_index
              WHERE status <> 'held' AND status_at < ? ORDER BY status_at LIMIT ?)`)
    .run(before, limit).changes;
}

// ── read and written by the staff services ─────────────────────────────────

export interface CopyState {
  nodeId: number;
  node: string;
  deliveryId: number;
  messageId: string;
  reason: QuarantineReason;
  status: QuarantineStatus;
  pending: { id: number; action: QuarantineActionKind } | null;
}

/** One copy named by its node's name and delivery id, with its pending action; undefined when the index has none. */
export function findCopy(db: DB, node: string, deliveryId: number): CopyState | undefined {
  const r = db
    .prepare(`SELECT q.node_id AS nodeId, n.name AS node, q.delivery_id AS deliveryId, q.message_id AS messageId, q.reason, q.status,
                a.id AS pendingId, a.action AS pendingAction
              FROM quarantine_index q JOIN mx_nodes n ON n.id = q.node_id
              LEFT JOIN quarantine_actions a ON a.node_id = q.node_id AND a.delivery_id = q.delivery_id AND a.state = 'pending'
              WHERE n.name = ? AND q.delivery_id = ?`)
    .get(node, deliveryId) as
    | (Omit<CopyState, 'pending'> & { pendingId: number | null; pendingAction: QuarantineActionKind | null })
    | undefined;
  if (!r) return undefined;
  const { pendingId, pendingAction, ...rest } = r;
  return { ...rest, pending: pendingId === null || pendingAction === null ? null : { id: pendingId, action: pendingAction } };
}

export function insertAction(
  db: DB,
  a: {
    nodeId: number;
    deliveryId: number;
    messageId: string;
    action: QuarantineActionKind;
    requestedBy: number | null;
    requestedAt: number;
  },
): QuarantineActionRow {
  const { lastInsertRowid } = db
    .prepare(
      `INSERT INTO quarantine_actions (node_id, delivery_id, message_id, action, requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?)`,
    )
    .run(a.nodeId, a.deliveryId, a.messageId, a.action, a.requestedBy, a.requestedAt);
  return {
    id: Number(lastInsertRowid),
    nodeId: a.nodeId,
    deliveryId: a.deliveryId,
    messageId: a.messageId,
    action: a.action,
    requestedBy: a.requestedBy,
    requestedAt: iso(a.requestedAt),
    state: 'pending',
    resolvedAt: null,
  };
}

/** The node's pending actions, oldest first (GET /api/v1/mx/quarantine/actions). */
export function pendingActions(db: DB, nodeId: number, limit: number): QuarantineAction[] {
  return db
    .prepare(`SELECT id, delivery_id AS deliveryId, message_id AS messageId, action FROM quarantine_actions
              WHERE node_id = ? AND state = 'pending' ORDER BY id LIMIT ?`)
    .all(nodeId, limit) as QuarantineAction[];
}

// ── the list ───────────────────────────────────────────────────────────────

export interface QuarantineFilter {
  /** Words that must each appear (case-insensitively for ASCII) in the subject, sender, recipient, symbols, virus or message id. */
  q?: string;
  reason?: QuarantineReason;
  status?: QuarantineStatus;
  /** A node's name. */
  node?: string;
  /** Only copies listed after this one (the previous page's `next`). */
  before?: { at: number; nodeId: number; deliveryId: number };
  limit: number;
}

/** A LIKE pattern matching `word` anywhere, its own % _ and \ taken literally. */
const containing = (word: string): string => `%${word.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

/** Most words of a search used (the rest are ignored; each one is another LIKE over every row the filters leave). */
const MAX_SEARCH_WORDS = 8;

/** A row of the list query: the item's own columns as stored, then its pending and refused request flattened. */
type ItemRow = Omit<QuarantineItem, 'symbols' | 'quarantinedAt' | 'statusAt' | 'pending' | 'refused'> & {
  /** JSON array */
  symbols: string;
  quarantinedAt: number;
  statusAt: number | null;
  pendingId: number | null;
  pendingAction: QuarantineActionKind | null;
  pendingAt: number | null;
  refusedId: number | null;
  refusedAction: QuarantineActionKind | null;
  refusedWhy: QuarantineRefusal | null;
  refusedAt: number | null;
};

/**
 * Newest first (by the node's quarantine time, then node and delivery, so a page boundary is exact), at most
 * `limit` rows, and `next`, the cursor of the last one, when there may be more.
 */
export function listQuarantine(db: DB, f: QuarantineFilter): { items: QuarantineItem[]; next: string | null } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  for (const word of (f.q ?? '').split(/\s+/).filter(Boolean).slice(0, MAX_SEARCH_WORDS)) {
    where.push(`(q.subject LIKE ? ESCAPE '\\' OR q.sender LIKE ? ESCAPE '\\' OR q.recipient LIKE ? ESCAPE '\\'
                  OR q.symbols LIKE ? ESCAPE '\\' OR q.virus LIKE ? ESCAPE '\\' OR q.message_id LIKE ? ESCAPE '\\')`);
    const p = containing(word);
    args.push(p, p, p, p, p, p);
  }
  if (f.reason) {
    where.push('q.reason = ?');
    args.push(f.reason);
  }
  if (f.status) {
    where.push('q.status = ?');
    args.push(f.status);
  }
  if (f.node) {
    where.push('n.name = ?');
    args.push(f.node);
  }
  if (f.before) {
    where.push('(q.quarantined_at, q.node_id, q.delivery_id) < (?, ?, ?)');
    args.push(f.before.at, f.before.nodeId, f.before.deliveryId);
  }
  const rows = db
    .prepare(`SELECT n.name AS node, q.node_id AS nodeId, q.delivery_id AS deliveryId, q.message_id AS messageId, q.reason, q.recipient,
                q.route_kind AS route, q.target, q.sender, q.subject, q.size, q.score, q.symbols, q.virus, q.quarantined_at AS quarantinedAt, q.status,
                q.status_at AS statusAt, q.purge_reason AS purgeReason,
                a.id AS pendingId, a.action AS pendingAction, a.requested_at AS pendingAt,
                r.id AS refusedId, r.action AS refusedAction, r.refused_why AS refusedWhy, r.resolved_at AS refusedAt
              FROM quarantine_index q JOIN mx_nodes n ON n.id = q.node_id
              LEFT JOIN quarantine_actions a ON a.node_id = q.node_id AND a.delivery_id = q.delivery_id AND a.state = 'pending'
              LEFT JOIN quarantine_actions r ON r.id = (SELECT max(id) FROM quarantine_actions l WHERE l.node_id = q.node_id
                                                          AND l.delivery_id = q.delivery_id AND l.message_id = q.message_id)
                                             AND r.state = 'refused'
              ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
              ORDER BY q.quarantined_at DESC, q.node_id DESC, q.delivery_id DESC
              LIMIT ?`)
    .all(...args, f.limit + 1) as ItemRow[];
  const more = rows.length > f.limit;
  const page = more ? rows.slice(0, f.limit) : rows;
  const items = page.map(
    ({ pendingId, pendingAction, pendingAt, refusedId, refusedAction, refusedWhy, refusedAt, symbols, quarantinedAt, statusAt, ...r }) => ({
      ...r,
      symbols: JSON.parse(symbols) as string[],
      quarantinedAt: iso(quarantinedAt),
      statusAt: statusAt === null ? null : iso(statusAt),
      pending:
        pendingId === null || pendingAction === null || pendingAt === null
          ? null
          : { id: pendingId, action: pendingAction, requestedAt: iso(pendingAt) },
      refused:
        refusedId === null || refusedAction === null || refusedWhy === null || refusedAt === null
          ? null
          : { id: refusedId, action: refusedAction, why: refusedWhy, at: iso(refusedAt) },
    }),
  );
  const last = page[page.length - 1];
  return { items, next: more && last ? cursorOf(last) : null };
}

/** The opaque page cursor: the row's quarantine time, node id and delivery id. */
function cursorOf(r: { quarantinedAt: number; nodeId: number; deliveryId: number }): string {
  return `${r.quarantinedAt}.${r.nodeId}.${r.deliveryId}`;
}

/** A cursor back into its parts; undefined when it is not one listQuarantine gave. */
export function parseCursor(s: string): QuarantineFilter['before'] | undefined {
  const m = /^(\d{1,15})\.(\d{1,10})\.(\d{1,15})$/.exec(s);
  if (!m) return undefined;
  return { at: Number(m[1]), nodeId: Number(m[2]), deliveryId: Number(m[3]) };
}

/** Every MX node's name, sorted (the staff page's node filter). */
export function nodeNames(db: DB): string[] {
  return db.prepare('SELECT name FROM mx_nodes ORDER BY name').pluck().all() as string[];
}

/** How many indexed copies stand in each status. */
export function quarantineCounts(db: DB): Record<QuarantineStatus, number> {
  const out: Record<QuarantineStatus, number> = { held: 0, released: 0, purged: 0 };
  for (const r of db.prepare('SELECT status, count(*) AS n FROM quarantine_index GROUP BY status').all() as {
    status: QuarantineStatus;
    n: number;
  }[])
    out[r.status] = r.n;
  return out;
}
