// A task's impact report: per deployment phase, measured numbers against the week before. Filled in by its work.
import type { TaskImpact } from '#data/contracts/telemetry-impact.ts';
import type { DB } from '#data/db.ts';

export function taskImpact(_db: DB, _sectionSlug: string, _taskId: number, _now: Date): TaskImpact | null {
  return null;
}
