// Appends a task's outbox event (issue 14) in the caller's transaction, built from the task as the change left it.
import type { NotifyEventKind } from '#data/contracts/notify.ts';
import type { DB } from '#data/db.ts';
import { taskPayload, type TaskNews } from '../../domain/notify-payload.ts';
import { recordNotifyEvent } from '../../store/notify.ts';
import { notifyComment, notifyTaskFacts, type NotifyTaskFacts } from '../../store/notify-facts.ts';

/** Call after the change, inside its transaction: a failure here rolls the change back too. Returns the event id. */
export function announceTask(db: DB, publicUrl: string, taskId: number, at: string, news: (task: NotifyTaskFacts) => TaskNews): number {
  const task = notifyTaskFacts(db, taskId);
  if (!task) throw new Error(`task ${taskId} vanished inside its own transaction`);
  const n = news(task);
  const kind: NotifyEventKind = n.kind;
  return recordNotifyEvent(db, { kind, taskId, sectionId: task.sectionId, at, payload: taskPayload(publicUrl, task, n) });
}

/** The news of a stored comment: its sanitized HTML as the page shows it, and its author. */
export function commentNews(db: DB, commentId: number): TaskNews {
  const c = notifyComment(db, commentId);
  if (!c) throw new Error(`comment ${commentId} vanished inside its own transaction`);
  return { kind: 'comment', ...c };
}
