// Replaces a task's ordered deployment plan as a whole, recording old and new plan in one history row.
import type { ReplacePhasesInput } from '#data/contracts/tasks.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { describePhases, laterInstant } from '../../domain/task-rules.ts';
import { taskRow, updateTask, insertHistory, phaseRows, replacePhaseRows } from '../../store/tasks.ts';
import { assertCurrentVersion } from './version.ts';
import { auditTask } from './audit.ts';
import { announceTask } from '../notify/task-events.ts';
import { followPhases } from '../mail/switches.ts';

export function replacePhases({
  ctx,
  actor,
  taskId,
  input,
}: {
  ctx: NotifyingContext;
  actor: Actor & { userId: number };
  taskId: number;
  input: ReplacePhasesInput;
}): { changed: boolean } {
  const at = ctx.clock().toISOString();
  const changed = ctx.db
    .transaction(() => {
      const task = taskRow(ctx.db, taskId);
      if (!task) throw new NotFound(`${taskRef(taskId)} does not exist.`);
      assertCurrentVersion(task, input.version);
      const old = describePhases(
        phaseRows(ctx.db, taskId).map((p) => ({ title: p.title, startsAt: p.starts_at, endsAt: p.ends_at, note: p.note })),
      );
      const next = describePhases(input.phases);
      if (old === next) return false;
      replacePhaseRows(ctx.db, taskId, input.phases);
      // Mail switches linked to a phase move with its start (or are cancelled with it), in this same transaction.
      followPhases(ctx, actor, taskId, at);
      updateTask(ctx.db, taskId, { version: task.version + 1, last_edited_at: laterInstant(task.last_edited_at, at) });
      insertHistory(ctx.db, taskId, actor.userId, at, [{ field: 'phases', oldValue: old || null, newValue: next || null }]);
      const phases = input.phases.map((p) => ({ title: p.title, startsAt: p.startsAt, endsAt: p.endsAt }));
      announceTask(ctx.db, ctx.publicUrl, taskId, at, () => ({ kind: 'phases-changed', phases }));
      auditTask(ctx.db, { at, actor, action: 'task.phases', taskId, detail: `${input.phases.length} phase(s)` });
      return true;
    })
    .immediate();
  if (changed) ctx.changes.bump();
  return { changed };
}
