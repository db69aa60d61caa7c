// The optimistic lock of a task: an editor sends the version it saw; a stale one is a Conflict so nobody overwrites unseen changes.
import { taskRef } from '#data/contracts/tasks.ts';
import { Conflict } from '../../domain/errors.ts';
import type { TaskRow } from '../../store/tasks.ts';

/** No version sent means "don't check" (scripts, the CLI); the staff forms always send one. */
export function assertCurrentVersion(task: Pick<TaskRow, 'id' | 'version'>, sent: number | undefined): void {
  if (sent !== undefined && sent !== task.version) {
    throw new Conflict(
      `${taskRef(task.id)} was changed by someone else (now version ${task.version}, you sent ${sent}); reload and try again.`,
    );
  }
}
