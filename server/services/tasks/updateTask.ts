// Partial edit of a task: each changed field becomes one history row in the same transaction.
import type { UpdateTaskInput } from '#data/contracts/tasks.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { DB } from '#data/db.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { renderMarkdown } from '../../domain/markdown.ts';
import { NotFound } from '../../domain/errors.ts';
import { diffFields, laterInstant } from '../../domain/task-rules.ts';
import { displayOf } from '../../store/lists.ts';
import { taskRow, updateTask as writeTask, insertHistory, type TaskRow } from '../../store/tasks.ts';
import { assertReferencesExist } from './references.ts';
import { assertCurrentVersion } from './version.ts';
import { auditTask } from './audit.ts';
import { announceTask } from '../notify/task-events.ts';
import { ANNOUNCED_FIELDS } from '../../domain/notify-payload.ts';

type Editable = Pick<TaskRow, 'summary' | 'details_md' | 'type_id' | 'category_id' | 'section_id' | 'status_id' | 'percent'>;

/** What a history row shows for each editable field: names and paths, not ids. */
function display(db: DB, t: Editable): Record<string, string | null> {
  return {
    summary: t.summary,
    details: t.details_md,
    type: displayOf(db, 'task-types', t.type_id),
    category: displayOf(db, 'categories', t.category_id),
    section: displayOf(db, 'sections', t.section_id),
    status: displayOf(db, 'statuses', t.status_id),
    percent: String(t.percent),
  };
}

export function updateTask({
  ctx,
  actor,
  id,
  input,
}: {
  ctx: NotifyingContext;
  actor: Actor & { userId: number };
  id: number;
  input: UpdateTaskInput;
}): { changed: number } {
  const db = ctx.db;
  const at = ctx.clock().toISOString();
  const changed = db
    .transaction(() => {
      const before = taskRow(db, id);
      if (!before) throw new NotFound(`${taskRef(id)} does not exist.`);
      assertCurrentVersion(before, input.version);
      assertReferencesExist(db, [
        { field: 'typeId', kind: 'task-types', id: input.typeId },
        { field: 'categoryId', kind: 'categories', id: input.categoryId },
        { field: 'sectionId', kind: 'sections', id: input.sectionId },
        { field: 'statusId', kind: 'statuses', id: input.statusId },
      ]);
      const after: Editable = {
        summary: input.summary ?? before.summary,
        details_md: input.details ?? before.details_md,
        type_id: input.typeId ?? before.type_id,
        category_id: input.categoryId ?? before.category_id,
        section_id: input.sectionId === undefined ? before.section_id : input.sectionId,
        status_id: input.statusId ?? before.status_id,
        percent: input.percent ?? before.percent,
      };
      const changes = diffFields(display(db, before), display(db, after));
      if (changes.length === 0) return 0;
      writeTask(db, id, {
        ...after,
        details_html: after.details_md === before.details_md ? before.details_html : renderMarkdown(after.details_md),
        version: before.version + 1,
        last_edited_at: laterInstant(before.last_edited_at, at),
      });
      insertHistory(db, id, actor.userId, at, changes);
      // Subscribers hear of the fields the public page lists (not of a details-only edit).
      const news = changes
        .filter((ch) => ANNOUNCED_FIELDS.has(ch.field))
        .map((ch) => ({ field: ch.field, from: ch.oldValue, to: ch.newValue }));
      if (news.length) announceTask(db, ctx.publicUrl, id, at, () => ({ kind: 'task-changed', changes: news }));
      auditTask(db, { at, actor, action: 'task.update', taskId: id, detail: changes.map((ch) => ch.field).join(', ') });
      return changes.length;
    })
    .immediate();
  if (changed) ctx.changes.bump();
  return { changed };
}
