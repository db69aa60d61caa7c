// Opens a task (optionally keeping an imported id and opening date), with its "opened" history row.
import type { CreateTaskInput } from '#data/contracts/tasks.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { renderMarkdown } from '../../domain/markdown.ts';
import { Invalid, Conflict } from '../../domain/errors.ts';
import { isInFuture } from '../../domain/task-rules.ts';
import { insertTask, insertHistory, taskRow, nextTaskId } from '../../store/tasks.ts';
import { MAX_ID } from '../../http/validate.ts';
import { assertReferencesExist } from './references.ts';
import { auditTask } from './audit.ts';
import { announceTask } from '../notify/task-events.ts';

export function createTask({
  ctx,
  actor,
  input,
}: {
  ctx: NotifyingContext;
  actor: Actor & { userId: number };
  input: CreateTaskInput;
}): number {
  const now = ctx.clock();
  const openedAt = input.openedAt ?? now.toISOString();
  if (isInFuture(openedAt, now))
    throw new Invalid('A task cannot be opened in the future.', [{ field: 'openedAt', message: 'must not be in the future' }]);
  const id = ctx.db
    .transaction(() => {
      assertReferencesExist(ctx.db, [
        { field: 'typeId', kind: 'task-types', id: input.typeId },
        { field: 'categoryId', kind: 'categories', id: input.categoryId },
        { field: 'sectionId', kind: 'sections', id: input.sectionId },
        { field: 'statusId', kind: 'statuses', id: input.statusId },
      ]);
      if (input.id !== undefined && taskRow(ctx.db, input.id)) throw new Conflict(`${taskRef(input.id)} already exists.`);
      // A task the API could not address afterwards (GET /tasks/:id stops at MAX_ID) must not be made at all.
      if (input.id !== undefined && input.id > MAX_ID) {
        throw new Invalid(`Task numbers go up to ${MAX_ID}.`, [{ field: 'id', message: `must be at most ${MAX_ID}` }]);
      }
      if (input.id === undefined && nextTaskId(ctx.db) > MAX_ID) {
        throw new Conflict(
          `No automatic task number is left: ${taskRef(MAX_ID)} is the highest there can be. Give the new task a free number (id) yourself.`,
        );
      }
      const newId = insertTask(ctx.db, {
        id: input.id,
        summary: input.summary,
        details_md: input.details,
        details_html: renderMarkdown(input.details),
        type_id: input.typeId,
        category_id: input.categoryId,
        section_id: input.sectionId,
        status_id: input.statusId,
        percent: input.percent,
        opened_by: actor.userId,
        opened_at: openedAt,
        last_edited_at: openedAt,
      });
      insertHistory(ctx.db, newId, actor.userId, openedAt, [{ field: 'task', oldValue: null, newValue: 'opened' }]);
      announceTask(ctx.db, ctx.publicUrl, newId, openedAt, (t) => ({
        kind: 'task-opened',
        type: t.type,
        by: t.openedBy,
        detailsHtml: t.detailsHtml,
      }));
      // No copy of the summary: a secret typed into it and edited out later would live on in the audit log, where no
      // redaction reaches. The task itself, and the history of later edits, say what it was called.
      auditTask(ctx.db, { at: now.toISOString(), actor, action: 'task.create', taskId: newId });
      return newId;
    })
    .immediate();
  ctx.changes.bump();
  return id;
}
