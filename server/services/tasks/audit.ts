// The global audit row of a task action, written in the caller's transaction next to the task_history rows.
import { taskRef } from '#data/contracts/tasks.ts';
import type { DB } from '#data/db.ts';
import type { Actor } from '../context.ts';
import { writeAudit } from '../../store/audit.ts';

export type TaskAction = 'task.create' | 'task.update' | 'task.comment' | 'task.close' | 'task.reopen' | 'task.phases' | 'task.redact';

export function auditTask(db: DB, o: { at: string; actor: Actor; action: TaskAction; taskId: number; detail?: string | null }): void {
  writeAudit(db, {
    at: o.at,
    userId: o.actor.userId,
    actor: o.actor.name,
    action: o.action,
    target: taskRef(o.taskId),
    detail: o.detail ?? null,
  });
}
