// SQL of the accounting line (data/migrations/backend/009_telemetry_accounting.sql): per node, running counts of its
// events in deliveries, and its heartbeats' queue readings paired with those counts at the reading's exact seq.
import type { TelemetryEvent, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { stmt } from './prepared.ts';
import { DAY_MS } from './telemetry-rollups.ts';
import { HOUR_MS, hourOf, minuteOf } from './telemetry.ts';

/** Readings older than this are thinned to the last of each hour (data/migrations/backend/009_telemetry_accounting.sql). */
export const CHECKPOINT_MINUTES_KEPT_MS = 14 * DAY_MS;

/** A node's events counted from its origin: messages, and the deliveries they created or ended. */
export interface Counts {
  acceptedMessages: number;
  accepted: number;
  dsnMessages: number;
  dsnDeliveries: number;
  delivered: number;
  bounced: number;
  quarantined: number;
  discarded: number;
  /** Quarantined copies released by staff: back into the queue (an inflow). */
  released: number;
  /** accepted and dsn events that did not say how many deliveries they created. */
  uncounted: number;
}

export const ZERO_COUNTS: Readonly<Counts> = {
  acceptedMessages: 0,
  accepted: 0,
  dsnMessages: 0,
  dsnDeliveries: 0,
  delivered: 0,
  bounced: 0,
  quarantined: 0,
  discarded: 0,
  released: 0,
  uncounted: 0,
};

interface Account extends Counts {
  nodeId: number;
  /** The counts hold the node's events up to here (its cursor). */
  seq: number;
  originSeq: number;
  pendingSeq: number | null;
  pendingAt: number | null;
  pendingQueueDepth: number | null;
  skipped: number;
}

/** A queue reading with the node's counts at the reading's seq. */
export interface Checkpoint extends Counts {
  nodeId: number;
  at: number;
  seq: number;
  queueDepth: number;
}

const COUNT_COLUMNS = `accepted_messages AS acceptedMessages, accepted, dsn_messages AS dsnMessages, dsn_deliveries AS dsnDeliveries,
  delivered, bounced, quarantined, discarded, released, uncounted`;

function readAccount(db: DB, nodeId: number): Account | undefined {
  return stmt(
    db,
    `SELECT node_id AS nodeId, seq, origin_seq AS originSeq, ${COUNT_COLUMNS}, pending_seq AS pendingSeq,
                     pending_at AS pendingAt, pending_queue_depth AS pendingQueueDepth, skipped
              FROM telemetry_accounts WHERE node_id = ?`,
  ).get(nodeId) as Account | undefined;
}

/** The node's account; a node first seen now starts counting at `cursor` (0 for a new node: all its events). */
function accountOf(db: DB, nodeId: number, cursor: number): Account {
  const held = readAccount(db, nodeId);
  if (held) return held;
  db.prepare('INSERT INTO telemetry_accounts (node_id, seq, origin_seq) VALUES (?, ?, ?)').run(nodeId, cursor, cursor);
  return readAccount(db, nodeId) as Account;
}

function writeAccount(db: DB, a: Account): void {
  stmt(
    db,
    `UPDATE telemetry_accounts SET seq = @seq, origin_seq = @originSeq, accepted_messages = @acceptedMessages,
                accepted = @accepted, dsn_messages = @dsnMessages, dsn_deliveries = @dsnDeliveries, delivered = @delivered,
                bounced = @bounced, quarantined = @quarantined, discarded = @discarded, released = @released, uncounted = @uncounted,
                pending_seq = @pendingSeq, pending_at = @pendingAt, pending_queue_depth = @pendingQueueDepth, skipped = @skipped
              WHERE node_id = @nodeId`,
  ).run(a);
}

function countsOf(a: Counts): Counts {
  return {
    acceptedMessages: a.acceptedMessages,
    accepted: a.accepted,
    dsnMessages: a.dsnMessages,
    dsnDeliveries: a.dsnDeliveries,
    delivered: a.delivered,
    bounced: a.bounced,
    quarantined: a.quarantined,
    discarded: a.discarded,
    released: a.released,
    uncounted: a.uncounted,
  };
}

/** Adds one event to the counts: accepted/dsn by the deliveries they created, each outcome as one delivery. */
function count(a: Counts, e: TelemetryEvent): void {
  switch (e.type) {
    case 'accepted':
      a.acceptedMessages++;
      if (e.deliveries === undefined) a.uncounted++;
      else a.accepted += e.deliveries;
      return;
    case 'dsn':
      a.dsnMessages++;
      if (e.deliveries === undefined) a.uncounted++;
      else a.dsnDeliveries += e.deliveries;
      return;
    case 'delivered':
      a.delivered++;
      return;
    case 'bounced':
      a.bounced++;
      return;
    case 'quarantined':
      a.quarantined++;
      return;
    case 'discarded':
      a.discarded++;
      return;
    case 'released':
      a.released++;
      return;
    case 'rejected':
    case 'deferred':
    case 'purged': // the copy's outcome stays 'quarantined', counted when it was quarantined
    case 'quarantine-refused': // a staff action that changed nothing
      return;
  }
}

function insertCheckpoint(db: DB, nodeId: number, at: number, seq: number, queueDepth: number, c: Counts): void {
  const minute = minuteOf(at);
  const earlierThisHour = db
    .prepare('SELECT 1 FROM telemetry_checkpoints WHERE node_id = ? AND minute >= ? AND minute <= ?')
    .get(nodeId, hourOf(minute), minute);
  // A reading at the seq of one already held for the minute says the same (nothing happened between): the later
  // one's time is kept.
  db.prepare(`INSERT INTO telemetry_checkpoints (node_id, minute, at, seq, queue_depth, accepted_messages, accepted, dsn_messages,
                dsn_deliveries, delivered, bounced, quarantined, discarded, released, uncounted)
              VALUES (@nodeId, @minute, @at, @seq, @queueDepth, @acceptedMessages, @accepted, @dsnMessages, @dsnDeliveries,
                @delivered, @bounced, @quarantined, @discarded, @released, @uncounted)
              ON CONFLICT(node_id, minute, seq) DO UPDATE SET at = excluded.at, queue_depth = excluded.queue_depth,
                accepted_messages = excluded.accepted_messages, accepted = excluded.accepted, dsn_messages = excluded.dsn_messages,
                dsn_deliveries = excluded.dsn_deliveries, delivered = excluded.delivered, bounced = excluded.bounced,
                quarantined = excluded.quarantined, discarded = excluded.discarded, released = excluded.released,
                uncounted = excluded.uncounted
              WHERE excluded.at >= telemetry_checkpoints.at`).run({ nodeId, minute, at, seq, queueDepth, ...c });
  // Once per hour of readings: older than CHECKPOINT_MINUTES_KEPT_MS, keep the last reading of each hour.
  if (!earlierThisHour)
    db.prepare(`DELETE FROM telemetry_checkpoints WHERE node_id = @nodeId AND minute < @cutoff AND at NOT IN
                  (SELECT max(at) FROM telemetry_checkpoints WHERE node_id = @nodeId AND minute < @cutoff
                   GROUP BY minute - minute % ${HOUR_MS})`).run({ nodeId, cutoff: minute - CHECKPOINT_MINUTES_KEPT_MS });
}

function settlePending(db: DB, a: Account): void {
  if (a.pendingSeq === null || a.pendingAt === null || a.pendingQueueDepth === null) return;
  insertCheckpoint(db, a.nodeId, a.pendingAt, a.pendingSeq, a.pendingQueueDepth, a);
  a.pendingSeq = a.pendingAt = a.pendingQueueDepth = null;
}

/**
 * Counts a batch's newly applied events (events[from..], seq > cursor, in seq order); the caller holds the batch's transaction and
 * moves the cursor to the last one. A reading waiting for these events becomes a checkpoint at its exact seq.
 */
export function countEvents(db: DB, nodeId: number, cursor: number, events: readonly TelemetryEvent[], from = 0): void {
  if (from >= events.length) return;
  const a = accountOf(db, nodeId, cursor);
  if (a.seq !== cursor) {
    // The counts do not stand at the cursor (a restored or hand-edited database): what they and the readings say no
    // longer pairs with the node's events, so counting starts again here, as for a node first seen now.
    Object.assign(a, ZERO_COUNTS, { seq: cursor, originSeq: cursor, pendingSeq: null, pendingAt: null, pendingQueueDepth: null });
    db.prepare('DELETE FROM telemetry_checkpoints WHERE node_id = ?').run(nodeId);
  }
  for (let i = from; i < events.length; i++) {
    const e = events[i];
    if (a.pendingSeq !== null && e.seq > a.pendingSeq) settlePending(db, a);
    count(a, e);
  }
  a.seq = events[events.length - 1].seq;
  if (a.pendingSeq !== null && a.seq >= a.pendingSeq) settlePending(db, a);
  writeAccount(db, a);
}

export type ReadingOutcome = 'checkpoint' | 'pending' | 'skipped';

/**
 * Pairs a heartbeat's queue reading with the counts at its seq (lastSeq): at once when the backend holds exactly
 * that seq; once the batch reaching it is applied when it holds less; never when it already holds more (the counts
 * at that seq are gone: counted in `skipped`; the node sends batches and heartbeats one at a time, so only a node
 * older than that, or a replayed heartbeat, gets here). The caller holds the heartbeat's transaction.
 */
export function recordReading(db: DB, nodeId: number, cursor: number, hb: TelemetryHeartbeat): ReadingOutcome {
  const a = accountOf(db, nodeId, cursor);
  if (hb.lastSeq === a.seq) {
    insertCheckpoint(db, nodeId, hb.at, hb.lastSeq, hb.queueDepth, a);
    return 'checkpoint';
  }
  if (hb.lastSeq > a.seq) {
    if (a.pendingSeq === null || hb.lastSeq >= a.pendingSeq) {
      a.pendingSeq = hb.lastSeq;
      a.pendingAt = hb.at;
      a.pendingQueueDepth = hb.queueDepth;
      writeAccount(db, a);
    }
    return 'pending';
  }
  a.skipped++;
  writeAccount(db, a);
  return 'skipped';
}

export interface AccountState {
  nodeId: number;
  originSeq: number;
}

export function accounts(db: DB): AccountState[] {
  return db.prepare('SELECT node_id AS nodeId, origin_seq AS originSeq FROM telemetry_accounts ORDER BY node_id').all() as AccountState[];
}

const CHECKPOINT_SELECT = `SELECT node_id AS nodeId, at, seq, queue_depth AS queueDepth, ${COUNT_COLUMNS} FROM telemetry_checkpoints`;

/** The node's last reading at or before `at` (and at or before `maxSeq`); undefined when there is none. */
export function checkpointAtOrBefore(db: DB, nodeId: number, at: number, maxSeq = Number.MAX_SAFE_INTEGER): Checkpoint | undefined {
  return db
    .prepare(`${CHECKPOINT_SELECT} WHERE node_id = ? AND at <= ? AND seq <= ? ORDER BY at DESC, seq DESC LIMIT 1`)
    .get(nodeId, at, maxSeq) as Checkpoint | undefined;
}

/** The node's first reading after `at`; undefined when there is none. */
export function checkpointAfter(db: DB, nodeId: number, at: number): Checkpoint | undefined {
  return db.prepare(`${CHECKPOINT_SELECT} WHERE node_id = ? AND at > ? ORDER BY at, seq LIMIT 1`).get(nodeId, at) as Checkpoint | undefined;
}

export { countsOf };
