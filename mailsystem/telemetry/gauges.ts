// The heartbeat's gauges, read on the node: the queue, the config replica and the event log.
import type { TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';

export interface HeartbeatOptions {
  /** Whether the node scans content ('off' only with TIDINGS_SCAN=off); the composition root knows. Omitted: not sent. */
  scanning?: 'on' | 'off';
}

export function heartbeatReader(db: DB, opts: HeartbeatOptions = {}): (now: number) => TelemetryHeartbeat {
  // A queued delivery with a last_response has failed at least once (recordDeferred sets it; delivered and
  // bounced rows leave the 'queued' state): it waits for a retry.
  const queue = db.prepare(`SELECT count(*) AS depth, min(created_at) AS oldest,
                                   coalesce(sum(last_response IS NOT NULL), 0) AS retry
                            FROM deliveries WHERE state = 'queued'`);
  const replica = db.prepare('SELECT version, synced_at FROM replica_state WHERE id = 1');
  // AUTOINCREMENT keeps the highest seq ever handed out in sqlite_sequence, also after pruning emptied the log.
  const lastSeq = db
    .prepare(`SELECT max(coalesce((SELECT max(seq) FROM events), 0),
                         coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))`)
    .pluck();
  return (now) => {
    const q = queue.get() as { depth: number; oldest: number | null; retry: number };
    const r = replica.get() as { version: number; synced_at: string | null } | undefined;
    const syncedAt = r?.synced_at ? Date.parse(r.synced_at) : Number.NaN;
    return {
      at: now,
      queueDepth: q.depth,
      oldestQueuedMs: q.oldest === null ? null : Math.max(0, now - q.oldest),
      inRetry: q.retry,
      configVersion: r?.version ?? 0,
      lastSyncAt: Number.isFinite(syncedAt) ? syncedAt : null,
      lastSeq: lastSeq.get() as number,
      ...(opts.scanning ? { scanning: opts.scanning } : {}),
    };
  };
}
