// Closes a task with a reason: percent goes to 100, closed by/at are set, each change is a history row.
import type { CloseTaskInput } from '#data/contracts/tasks.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { Invalid, Conflict, NotFound } from '../../domain/errors.ts';
import { isInFuture, laterInstant, PERCENT_WHEN_CLOSED, type FieldChange } from '../../domain/task-rules.ts';
import { displayOf, entryByKey } from '../../store/lists.ts';
import { taskRow, updateTask, insertHistory } from '../../store/tasks.ts';
import { assertReferencesExist } from './references.ts';
import { auditTask } from './audit.ts';
import { announceTask } from '../notify/task-events.ts';

export function closeTask({
  ctx,
  actor,
  taskId,
  input,
}: {
  ctx: NotifyingContext;
  actor: Actor & { userId: number };
  taskId: number;
  input: CloseTaskInput;
}): void {
  const now = ctx.clock();
  const at = input.at ?? now.toISOString();
  if (isInFuture(at, now))
    throw new Invalid('A task cannot be closed in the future.', [{ field: 'at', message: 'must not be in the future' }]);
  ctx.db
    .transaction(() => {
      const task = taskRow(ctx.db, taskId);
      if (!task) throw new NotFound(`${taskRef(taskId)} does not exist.`);
      if (task.is_closed) throw new Conflict(`${taskRef(taskId)} is already closed.`);
      if (at < task.opened_at)
        throw new Invalid('A task cannot close before it opened.', [{ field: 'at', message: `must not be before ${task.opened_at}` }]);
      const reasonId = input.reasonId ?? entryByKey(ctx.db, 'close-reasons', input.reason ?? '')?.id;
      if (reasonId === undefined)
        throw new Invalid(`unknown close reason "${input.reason}"`, [
          { field: 'reason', message: `unknown close reason "${input.reason}"` },
        ]);
      assertReferencesExist(ctx.db, [{ field: 'reasonId', kind: 'close-reasons', id: reasonId }]);
      updateTask(ctx.db, taskId, {
        is_closed: 1,
        close_reason_id: reasonId,
        closed_by: actor.userId,
        closed_at: at,
        percent: PERCENT_WHEN_CLOSED,
        version: task.version + 1,
        last_edited_at: laterInstant(task.last_edited_at, at),
      });
      const changes: FieldChange[] = [
        { field: 'closed', oldValue: 'open', newValue: 'closed' },
        { field: 'close_reason', oldValue: null, newValue: displayOf(ctx.db, 'close-reasons', reasonId) },
      ];
      if (task.percent !== PERCENT_WHEN_CLOSED)
        changes.push({ field: 'percent', oldValue: String(task.percent), newValue: String(PERCENT_WHEN_CLOSED) });
      insertHistory(ctx.db, taskId, actor.userId, at, changes);
      const reason = displayOf(ctx.db, 'close-reasons', reasonId) ?? '';
      announceTask(ctx.db, ctx.publicUrl, taskId, at, () => ({ kind: 'task-closed', reason }));
      auditTask(ctx.db, {
        at: now.toISOString(),
        actor,
        action: 'task.close',
        taskId,
        detail: reason,
      });
    })
    .immediate();
  ctx.changes.bump();
}
