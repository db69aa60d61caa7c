// Adds a comment (Markdown rendered and sanitized now), optionally back-dated, with its history row.
import type { AddCommentInput } from '#data/contracts/tasks.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { renderMarkdown } from '../../domain/markdown.ts';
import { Invalid, NotFound } from '../../domain/errors.ts';
import { isInFuture, laterInstant } from '../../domain/task-rules.ts';
import { taskRow, updateTask, insertHistory, insertComment } from '../../store/tasks.ts';
import { auditTask } from './audit.ts';
import { announceTask, commentNews } from '../notify/task-events.ts';

export function addComment({
  ctx,
  actor,
  taskId,
  input,
}: {
  ctx: NotifyingContext;
  actor: Actor & { userId: number };
  taskId: number;
  input: AddCommentInput;
}): number {
  const now = ctx.clock();
  const at = input.at ?? now.toISOString();
  if (isInFuture(at, now))
    throw new Invalid('A comment cannot be dated in the future.', [{ field: 'at', message: 'must not be in the future' }]);
  const id = ctx.db
    .transaction(() => {
      const task = taskRow(ctx.db, taskId);
      if (!task) throw new NotFound(`${taskRef(taskId)} does not exist.`);
      if (at < task.opened_at)
        throw new Invalid('A comment cannot predate its task.', [{ field: 'at', message: `must not be before ${task.opened_at}` }]);
      const commentId = insertComment(ctx.db, {
        taskId,
        authorId: actor.userId,
        at,
        bodyMd: input.body,
        bodyHtml: renderMarkdown(input.body),
      });
      updateTask(ctx.db, taskId, { version: task.version + 1, last_edited_at: laterInstant(task.last_edited_at, at) });
      insertHistory(ctx.db, taskId, actor.userId, at, [{ field: 'comment', oldValue: null, newValue: `added comment ${commentId}` }]);
      announceTask(ctx.db, ctx.publicUrl, taskId, at, () => commentNews(ctx.db, commentId));
      auditTask(ctx.db, {
        at: now.toISOString(),
        actor,
        action: 'task.comment',
        taskId,
        detail: `comment ${commentId}${at === now.toISOString() ? '' : `, dated ${at}`}`,
      });
      return commentId;
    })
    .immediate();
  ctx.changes.bump();
  return id;
}
