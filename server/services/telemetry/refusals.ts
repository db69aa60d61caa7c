// Counts refused telemetry requests per (node, reason), each in its own small transaction, for staff to see.
import type { DB } from '#data/db.ts';
import type { Clock, Log } from '../../deps.ts';
import { Conflict, Unprocessable } from '../../domain/errors.ts';
import { Problem } from '../../http/problem.ts';
import { bumpRefusal, type TelemetryRefusalReason } from '../../store/telemetry.ts';

/**
 * The counter a refusal of an authenticated node's request goes to; null for what is no refusal of the request (a bug
 * answers 500 and is logged). A bad token never gets this far: requireNode counts it (server/http/api-access.ts).
 */
export function refusalReasonOf(err: unknown): TelemetryRefusalReason | null {
  if (err instanceof Problem) {
    if (err.status === 400) return 'malformed';
    if (err.status === 413) return 'too-large';
    return null;
  }
  if (err instanceof Conflict) return 'gap';
  if (err instanceof Unprocessable) return 'future';
  return null;
}

/**
 * Bumps the counter. Never throws: a counter that cannot be written (a busy database) must not turn the refusal
 * it counts into a 500, so it is logged instead.
 */
export function countRefusal(
  deps: { db: DB; clock: Clock; log: Pick<Log, 'warn'> },
  nodeId: number | null,
  reason: TelemetryRefusalReason,
): void {
  try {
    const at = deps.clock().getTime();
    deps.db.transaction(() => bumpRefusal(deps.db, nodeId, reason, at)).immediate();
  } catch (err) {
    deps.log.warn({ err, nodeId, reason }, 'could not count a telemetry refusal');
  }
}
