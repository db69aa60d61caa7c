// Keeps a node's latest heartbeat and folds its gauges into the minute's chart row.
import type { TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { Clock } from '../../deps.ts';
import { Unprocessable } from '../../domain/errors.ts';
import type { MxNode } from '../../store/mail.ts';
import { recordReading } from '../../store/telemetry-accounting.ts';
import { foldGaugeMinute, readCursor, upsertHeartbeat } from '../../store/telemetry.ts';
import { MAX_FUTURE_MS } from './ingestBatch.ts';

export function recordHeartbeat({ db, clock, node, heartbeat }: { db: DB; clock: Clock; node: MxNode; heartbeat: TelemetryHeartbeat }): {
  receivedAt: number;
} {
  const now = clock().getTime();
  if (heartbeat.at > now + MAX_FUTURE_MS)
    throw new Unprocessable(
      `The heartbeat is dated ${new Date(heartbeat.at).toISOString()}, more than ${MAX_FUTURE_MS / 60_000} minutes after the backend's clock (${new Date(now).toISOString()}).`,
      [{ field: 'at', message: 'is in the future' }],
    );
  db.transaction(() => {
    upsertHeartbeat(db, node.id, heartbeat, now);
    foldGaugeMinute(db, node.id, heartbeat);
    recordReading(db, node.id, readCursor(db, node.id), heartbeat);
  }).immediate();
  return { receivedAt: now };
}
