// The accounting line over a range, from the rollups and the nodes' queue gauges. Filled in by the accounting work.
import type { Accounting } from '#data/contracts/telemetry-accounting.ts';
import type { DB } from '#data/db.ts';

/** Null until the accounting work lands (and afterwards when no node ever reported). */
export function accounting(_db: DB, _range: { from: number; to: number }, _now: Date): Accounting | null {
  return null;
}
