// Reopens a closed task: the close fields are cleared (percent is left as it was), with history rows.
import { taskRef } from '#data/contracts/tasks.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { Conflict, NotFound } from '../../domain/errors.ts';
import { laterInstant } from '../../domain/task-rules.ts';
import { displayOf } from '../../store/lists.ts';
import { taskRow, updateTask, insertHistory } from '../../store/tasks.ts';
import { auditTask } from './audit.ts';
import { announceTask } from '../notify/task-events.ts';

export function reopenTask({ ctx, actor, taskId }: { ctx: NotifyingContext; actor: Actor & { userId: number }; taskId: number }): void {
  const at = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      const task = taskRow(ctx.db, taskId);
      if (!task) throw new NotFound(`${taskRef(taskId)} does not exist.`);
      if (!task.is_closed) throw new Conflict(`${taskRef(taskId)} is not closed.`);
      updateTask(ctx.db, taskId, {
        is_closed: 0,
        close_reason_id: null,
        closed_by: null,
        closed_at: null,
        version: task.version + 1,
        last_edited_at: laterInstant(task.last_edited_at, at),
      });
      insertHistory(ctx.db, taskId, actor.userId, at, [
        { field: 'closed', oldValue: 'closed', newValue: 'open' },
        { field: 'close_reason', oldValue: displayOf(ctx.db, 'close-reasons', task.close_reason_id), newValue: null },
      ]);
      announceTask(ctx.db, ctx.publicUrl, taskId, at, () => ({ kind: 'task-reopened' }));
      auditTask(ctx.db, { at, actor, action: 'task.reopen', taskId });
    })
    .immediate();
  ctx.changes.bump();
}
