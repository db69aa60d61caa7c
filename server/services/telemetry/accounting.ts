// The accounting line over a range (data/contracts/telemetry-accounting.ts): per node, between its queue readings at
// or before `from` and `to`, the deliveries its events created and ended against the queue depths it measured.
import type { Accounting } from '#data/contracts/telemetry-accounting.ts';
import type { DB } from '#data/db.ts';
import {
  accounts,
  type Checkpoint,
  checkpointAfter,
  checkpointAtOrBefore,
  type Counts,
  ZERO_COUNTS,
} from '../../store/telemetry-accounting.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Null when no node has a queue reading at or before `to` (nothing measured: callers fall back to the rollups and
 * show no loss figure). Nodes without a reading by `to` make queued and unaccounted null: their deliveries are not
 * placed, and a line without them would claim a balance nobody measured.
 */
export function accounting(db: DB, range: { from: number; to: number }, _now: Date): Accounting | null {
  const sum: Counts = { ...ZERO_COUNTS };
  let carriedIn = 0;
  let queued: number | null = 0;
  let measuredFrom: number | null = null;
  let fromOrigin = false;
  let measuredTo: number | null = null;
  let measured = 0;
  db.transaction(() => {
    for (const node of accounts(db)) {
      const end = checkpointAtOrBefore(db, node.nodeId, range.to);
      if (!end) {
        queued = null;
        continue;
      }
      measured++;
      let start: Checkpoint | undefined = checkpointAtOrBefore(db, node.nodeId, range.from, end.seq);
      if (!start && node.originSeq !== 0) start = checkpointAfter(db, node.nodeId, range.from);
      if (start) {
        carriedIn += start.queueDepth;
        if (measuredFrom === null || start.at < measuredFrom) measuredFrom = start.at;
      } else fromOrigin = true; // every event of the node is counted: before its first one, nothing was queued
      const base: Counts = start ?? ZERO_COUNTS;
      for (const k of Object.keys(sum) as (keyof Counts)[]) sum[k] += end[k] - base[k];
      if (queued !== null) queued += end.queueDepth;
      if (measuredTo === null || end.at > measuredTo) measuredTo = end.at;
    }
  }).deferred();
  if (measured === 0) return null;
  const q = queued as number | null;
  const outcomes = sum.delivered + sum.bounced + sum.quarantined + sum.discarded;
  return {
    from: iso(range.from),
    to: iso(range.to),
    measuredFrom: fromOrigin || measuredFrom === null ? null : iso(measuredFrom),
    measuredTo: measuredTo === null ? null : iso(measuredTo),
    acceptedMessages: sum.acceptedMessages,
    carriedIn,
    accepted: sum.accepted,
    dsn: sum.dsnDeliveries,
    released: sum.released,
    delivered: sum.delivered,
    bounced: sum.bounced,
    quarantined: sum.quarantined,
    discarded: sum.discarded,
    queued: q,
    uncountedMessages: sum.uncounted,
    unaccounted: q === null || sum.uncounted > 0 ? null : carriedIn + sum.accepted + sum.dsnDeliveries + sum.released - outcomes - q,
  };
}
